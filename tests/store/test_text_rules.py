"""Redaction, sketch tags and time expressions."""

from __future__ import annotations

import numpy as np
import pytest

from engram_agents.store.lifecycle import merge, supersedes
from engram_agents.store.records import Engram, Scope
from engram_agents.store.redact import redact
from engram_agents.store.sketch import (
    ASKS,
    engram_sketch,
    extract_sketch,
    is_asking,
    states_own,
)
from engram_agents.store.timeexpr import find_time_mentions, parse_when, query_time_range

NOW = parse_when("1:56 pm on 8 May, 2023")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jo.smith@example.org today", "EMAIL"),
        ("call me at 555-123-4567", "PHONE"),
        ("call +44 20 7946 0958", "PHONE"),
        ("card 4111 1111 1111 1111 expires soon", "CARD"),
        ("my SSN is 123-45-6789", "SSN"),
        ("key sk-abcdefghijklmnopqrstuv12", "API_KEY"),
        ("AWS AKIAIOSFODNN7EXAMPLE", "API_KEY"),
        ("password: hunter2", "SECRET"),
    ],
)
def test_redaction_removes_identifiers(text, kind):
    cleaned, kinds = redact(text)
    assert f"[{kind}]" in cleaned and kind in kinds
    assert not any(part in cleaned for part in ("example.org", "4567", "hunter2", "6789"))


def test_redaction_leaves_ordinary_numbers():
    text = "I ran 5 km on 8 May, 2023 at 1:56 pm, from 2019-2023, order 1234 5678 9012 3456"
    assert redact(text) == (text, [])


def test_sketch_tags_are_canonical_and_readable():
    tags = extract_sketch(
        "Caroline: I went to the LGBTQ support group yesterday with Melanie at 3 pm in New York.",
        NOW,
    )
    for tag in ["kw:support", "kw:group", "name:melanie", "ent:new york", "time:15:00"]:
        assert tag in tags
    assert {"date:2023-05-07", "month:2023-05", "year:2023"} <= set(tags)
    assert extract_sketch("She paints; painting and painted") == ["kw:paint"]
    assert "num:1200" in extract_sketch("it cost $1,200")


@pytest.mark.parametrize(
    ("phrase", "start", "end"),
    [
        ("yesterday", "2023-05-07", "2023-05-08"),
        ("last week", "2023-05-01", "2023-05-08"),
        ("in May", "2023-05-01", "2023-06-01"),
        ("on 3 June, 2022", "2022-06-03", "2022-06-04"),
        ("two weeks ago", "2023-04-18", "2023-04-25"),
        ("last Saturday", "2023-05-06", "2023-05-07"),
        ("in 2021", "2021-01-01", "2022-01-01"),
    ],
)
def test_time_phrases_resolve_against_query_time(phrase, start, end):
    rng = query_time_range(f"what happened {phrase}?", NOW)
    assert rng is not None
    assert (rng.start.date().isoformat(), rng.end.date().isoformat()) == (start, end)


def test_words_that_look_like_months_are_not_dates():
    assert find_time_mentions("I may go, and we march on", NOW) == []


def _engram(text: str, **extra) -> Engram:
    engram = Engram(scope=Scope(user_id="u"), text=text)
    engram.metadata.extra.update(extra)
    engram.sketch = extract_sketch(text)
    return engram


def test_only_the_same_speaker_updates_a_statement():
    old = _engram("Jonas: We booked flights to Japan for June, Tokyo and Kyoto.")
    own = _engram("Jonas: Update on Japan: we moved the trip to October.")
    other = _engram("Leila: Japan in June sounds great, I moved my trip too.")
    assert supersedes(own, old, similarity=0.8, min_sim=0.5, min_kw=0.2)
    assert not supersedes(other, old, similarity=0.8, min_sim=0.5, min_kw=0.2)
    by_role = _engram("I moved the Japan trip to October.", role="assistant")
    assert not supersedes(by_role, _engram("Japan trip in June.", role="user"), 0.8, 0.5, 0.2)


def test_a_question_is_never_superseded():
    question = _engram("Jonas: When is your Japan trip?")
    answer = _engram("Jonas: Our Japan trip moved to October.")
    assert not supersedes(answer, question, similarity=0.9, min_sim=0.5, min_kw=0.2)


def test_a_question_supersedes_only_when_it_asks_for_a_change():
    fact = _engram("Daniel wants to move our weekly 1:1 to Thursdays, same time.")
    for asked in (
        "Which day of the week is my 1:1 with Daniel now?",
        "Can you tell me which day my weekly 1:1 with Daniel is now?",
    ):
        assert not supersedes(_engram(asked), fact, similarity=0.9, min_sim=0.5, min_kw=0.2)
    for told in (
        "Daniel moved our weekly 1:1 to Fridays now.",
        "Could you move my weekly 1:1 with Daniel to Fridays?",
        "Please reschedule the weekly 1:1 with Daniel to Friday?",
    ):
        assert supersedes(_engram(told), fact, similarity=0.9, min_sim=0.5, min_kw=0.2), told


def test_a_request_is_a_plan_that_a_change_updates():
    booked = _engram("Morning! Could you book me a haircut at Salon Vero for Saturday at 11 am?")
    cancel = _engram("Please cancel my haircut on Saturday, I'll rebook it some other time.")
    assert supersedes(cancel, booked, similarity=0.8, min_sim=0.5, min_kw=0.2)


def test_a_stored_turn_that_ends_by_asking_is_tagged_so():
    assert is_asking("Which day is my 1:1 with Daniel now?  ")
    assert not is_asking("Could you book me a haircut for Saturday at 11 am?")
    assert not is_asking("Please move standup to 10:30?")
    assert not is_asking("Is it Tuesday? No, my dentist moved to Friday.")
    assert is_asking("Ceramics! What did you make?")  # the last sentence decides
    assert is_asking("Ceramics! What did you make?")  # the last sentence decides
    assert ASKS in engram_sketch("Which day is my 1:1 with Daniel now?")
    assert ASKS not in engram_sketch("Could you book me a haircut for Saturday?")
    assert ASKS not in extract_sketch("Which day is my 1:1 with Daniel now?")  # queries


@pytest.mark.parametrize(
    ("text", "states"),
    [
        ("I'm vegetarian, what should I eat after a long run?", True),
        ("My rent is 780 euros. How much should I aim to save?", True),
        ("Thanks! I'm excited to see where pottery takes me. Anything coming up?", True),
        ("user: The file is 4 GB and R runs out of memory on my laptop. What can I do?", True),
        ("What time does our daily standup start?", False),  # first person, but asked
        ("Which day is my 1:1 with Daniel now?", False),
        ("Wow, that's great! What did you make?", False),  # no first person
        ("Melanie: Hey Caroline, how are you?", False),
    ],
)
def test_a_question_that_tells_about_the_speaker_is_not_only_asking(text, states):
    """Users of an assistant state their facts inside their questions: such a turn is kept
    from the `ASKS` tag, so recall does not rank it below statements."""
    assert is_asking(text)
    assert states_own(text) is states
    assert (ASKS in engram_sketch(text)) is not states


def test_a_merge_is_asking_only_if_every_source_is():
    def merged(*texts: str) -> list[str]:
        group = [_engram(t) for t in texts]
        for engram in group:
            engram.sketch = engram_sketch(engram.text)
        return merge(group, np.eye(len(group), 4, dtype=np.float32))[0].sketch

    assert ASKS in merged("When is standup?", "When does standup start?")
    assert ASKS not in merged("When is standup?", "Standup starts at 10:00.")


def test_an_assistant_answer_never_supersedes_unless_assistants_may():
    old = _engram("assistant: Back up the photos to the NAS every Sunday at 2 am.")
    new = _engram("assistant: Now back up the photos to the NAS every night at 2 am instead.")
    user_old = _engram("user: I back up my photos to the NAS every Sunday.")
    user_new = _engram("user: I now back up my photos to the NAS every night instead.")
    assert not supersedes(new, old, 0.9, 0.5, 0.2)
    assert supersedes(new, old, 0.9, 0.5, 0.2, assistant_supersedes=True)
    assert supersedes(user_new, user_old, 0.9, 0.5, 0.2)
    by_role = _engram("Back up nightly instead.", role="assistant")
    assert not supersedes(by_role, _engram("Back up weekly.", role="assistant"), 0.9, 0.5, 0.2)


@pytest.mark.parametrize("assistant_supersedes", [False, True])
def test_a_store_keeps_every_assistant_answer_current(tmp_path, assistant_supersedes):
    from engram_agents.memory import EngramMemory
    from engram_agents.store.config import StoreConfig
    from engram_agents.store.encoders import HashingEncoder

    config = StoreConfig(assistant_supersedes=assistant_supersedes)
    memory = EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(256), config=config)
    said = [
        ("user", "I back up my photos to the NAS every Sunday."),
        ("assistant", "Back up the photos to the NAS every Sunday at 2 am with rsync."),
        (
            "assistant",
            "Actually, now back up the photos to the NAS every night at 2 am with rsync.",
        ),
        ("user", "I now back up my photos to the NAS every night instead."),
    ]
    for role, text in said:
        memory.remember([{"role": role, "content": text}], "u")
    engrams = memory.list("u", include_superseded=True)
    gone = {e.text for e in engrams if e.superseded_by}
    assert "I back up my photos to the NAS every Sunday." in {
        e.text.removeprefix("user: ") for e in engrams if e.superseded_by
    }  # a user's update still replaces the user's old fact
    first_answer = next(e for e in engrams if "every Sunday at 2 am" in e.text)
    assert (first_answer.superseded_by is not None) == assistant_supersedes, gone
