"""Standing preferences: a turn that sets how the user wants things done from now on is marked
`act:prefers`, and a later request reads it though the two share no words; questions about what
was said or happened never do, so their ranking is exactly what it was without the mark."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.query_reading import is_request
from engram_agents.store.sketch import PREFERS, engram_sketch, states_preference

# A user-assistant chat: two standing instructions among requests and facts.
CHAT = [
    ("user", "I run the stock app for a tea shop in Leeds; can you set up the first endpoint?"),
    ("assistant", "Here is a first endpoint that lists the stock levels from the database."),
    ("user", "Also, a rule for the whole project: always include the Alembic migration."),
    ("assistant", "Noted: every schema change will come with its Alembic migration."),
    ("user", "Our warehouse moved to Kirkstall in March, the web orders ship from there now."),
    ("assistant", "Then only Kirkstall's stock should be pushed to the web shop."),
    ("user", "From now on I prefer pytest fixtures over unittest classes, please."),
    ("assistant", "Understood, the tests will use pytest fixtures from here on."),
    ("user", "The Assam and the Darjeeling sold out twice in the summer sale."),
    ("assistant", "A low-stock email at a threshold per tea would warn you before a sell-out."),
]
REQUESTS = [
    "Add a Supplier model with a lead time on each SKU.",
    "Can you write the tests for the low-stock email job?",
    "Should we add a column for the reorder threshold?",
]
QUESTIONS = [
    "Where do the web orders ship from?",
    "Which teas sold out in the summer sale?",
    "Summarise what we built for the stock app.",
    "Can you remind me where the warehouse is?",
]


@pytest.mark.parametrize(
    ("text", "standing"),
    [
        ("Always include the migration.", True),
        ("Please never use unittest.", True),
        ("From now on give me diffs, not whole files.", True),
        ("I actually prefer a unified diff now.", True),
        ("I want pytest with fixtures, not unittest classes.", True),
        ("Another rule while I think of it: British spelling.", True),
        ("The firm uses APA, so please stick to that in my reports.", True),
        ("Use the 24-hour clock for anything to do with my shifts.", True),
        ("I'll stick to the plan we made.", False),
        ("Thanks for everything to do with the wedding.", False),
        ("And please, anything about my mum, keep it brief.", True),
        ("I don't know anything about cars.", False),
        ("We always look forward to our camping trip.", False),
        ("I never got the reminder text.", False),
        ("The order shipped on Monday.", False),
    ],
)
def test_a_standing_preference_is_told_from_a_habit_or_a_fact(text: str, standing: bool):
    assert states_preference(text) is standing


@pytest.mark.parametrize(
    "query",
    [
        *REQUESTS,
        "How do I set up authentication?",
        "What database would you recommend for my new app?",
        "Any tips for the interview?",
        "Add a discount column to the orders table.",
        "My laptop got slow this week. How do I clean it up?",
        "Here's the error from the worker again, what's wrong?",
    ],
)
def test_requests_are_requests(query: str):
    assert is_request(query)


@pytest.mark.parametrize(
    "query",
    [
        *QUESTIONS,
        "In what ways is Caroline taking part in the community?",
        "According to Gina, what makes Jon a good mentor?",
        "If Evelyn had a driveway, might she have bought an electric car?",
        "List the trips I took this year in order.",
        "On the day of my GP appointment, what time do I go to the gym?",
        "For the invoice export, what account code do trade sales use?",
        "How did I fix the login bug?",
        "Am I allergic to anything?",
        "Can you sum up how the garden project went?",
        "Adding up the hotel and the flights, what did the trip cost us?",
        "Maria's visa arrived on a Friday. How long after her interview was that?",
    ],
)
def test_questions_about_what_was_are_not_requests(query: str):
    assert not is_request(query)


def test_only_what_a_user_or_a_person_said_is_marked():
    assert PREFERS in engram_sketch("Always include the migration.", speaker="user")
    assert PREFERS in engram_sketch("Always include the migration.", speaker="Caroline")
    assert PREFERS not in engram_sketch("Always include the migration.", speaker="assistant")


def _memory(path: Path, hashing, weight: float) -> EngramMemory:
    config = StoreConfig(weights=FusionWeights(preference=weight))
    memory = EngramMemory(path, encoder=hashing, config=config)
    memory.remember_many(
        [{"text": text, "metadata": {"speaker": role}} for role, text in CHAT], "u"
    )
    return memory


def _texts(memory: EngramMemory, query: str, k: int) -> list[str]:
    return [h.engram.text for h in memory.recall(query, "u", k=k)]


def test_a_request_recalls_the_standing_preferences_and_says_why(tmp_path: Path, hashing):
    with _memory(tmp_path / "a.db", hashing, 0.5) as memory:
        marked = [e.text for e in memory.list("u") if PREFERS in e.sketch]
        assert sorted(marked) == sorted([CHAT[2][1], CHAT[6][1]])
        for query in REQUESTS:
            hits = memory.recall(query, "u", k=6)
            preferred = [h for h in hits if h.engram.text in marked]
            assert len(preferred) == 2, query
            assert all(h.parts["preference"] == pytest.approx(0.5) for h in preferred)
            assert all("a standing preference" in h.explanation for h in preferred)
            assert all("preference" not in h.parts or not h.parts["preference"] for h in hits
                       if h.engram.text not in marked)  # fmt: skip


def test_the_mark_rises_a_preference_above_where_it_ranks_without_it(tmp_path: Path, hashing):
    with (
        _memory(tmp_path / "a.db", hashing, 0.5) as marked,
        _memory(tmp_path / "b.db", hashing, 0.0) as plain,
    ):
        for query in REQUESTS:
            with_mark, without = _texts(marked, query, len(CHAT)), _texts(plain, query, len(CHAT))
            for text in (CHAT[2][1], CHAT[6][1]):
                assert with_mark.index(text) <= without.index(text), query
            assert sum(with_mark.index(t) < without.index(t) for t in (CHAT[2][1], CHAT[6][1]))


def test_questions_about_the_past_rank_exactly_as_without_the_mark(tmp_path: Path, hashing):
    with (
        _memory(tmp_path / "a.db", hashing, 0.5) as marked,
        _memory(tmp_path / "b.db", hashing, 0.0) as plain,
    ):
        for query in QUESTIONS:
            a = marked.recall(query, "u", k=len(CHAT))
            b = plain.recall(query, "u", k=len(CHAT))
            assert [h.engram.text for h in a] == [h.engram.text for h in b]
            assert [h.score for h in a] == [h.score for h in b]
            assert [h.explanation for h in a] == [h.explanation for h in b]


def test_resketch_marks_the_preferences_of_an_older_store(tmp_path: Path, hashing, monkeypatch):
    """A store written before the mark gains it from `migrate.resketch`; a request then reads
    the marked turns as a fresh store would."""
    from engram_agents.store import sketch
    from engram_agents.store.migrate import resketch

    path = tmp_path / "old.db"
    monkeypatch.setattr(sketch, "states_preference", lambda text: False)  # before the mark
    _memory(path, hashing, 0.5).close()
    monkeypatch.undo()
    assert resketch(path) == 2
    with (
        EngramMemory(path, encoder=hashing) as old,
        _memory(tmp_path / "new.db", hashing, 0.5) as new,
    ):
        assert sorted(e.text for e in old.list("u") if PREFERS in e.sketch) == sorted(
            [CHAT[2][1], CHAT[6][1]]
        )
        assert _texts(old, REQUESTS[0], 6) == _texts(new, REQUESTS[0], 6)
