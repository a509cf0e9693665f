"""The role prior: whether the user's turns or the assistant's hold what gets used is learned per
store from feedback and observed replies; without either, marking who said a turn changes no
score and no rank, except for a question about what the assistant said, which its turns answer
(`FusionWeights.second_person`). A question about the asker's own things reads the user's turns
as a signal of its own (`first_person`), which starts at 0 and is learned the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.query_reading import asks_about_model, asks_about_self
from engram_agents.store.sketch import SAID_BY_MODEL, SAID_BY_USER, role_tag

# A user-assistant chat: the user's facts sit inside requests; the assistant's generic answers
# share the words of later questions about those requests.
CHAT = [
    ("user", "I keep two beehives on my allotment in Hove, can you help me plan the inspection?"),
    ("assistant", "Here is a plan for a hive inspection: smoke the entrance, lift the frames "
     "one by one, check for eggs and the queen, and plan the next inspection in a week."),
    ("user", "My daughter Isla starts school in Brighton in September, could you draft a list?"),
    ("assistant", "Here is a school list for September: uniform, shoes, a lunch box, a water "
     "bottle, and labels; draft the list early so the school start is calm."),
    ("user", "I practise the cello with my teacher Mr Okafor, can you suggest a practice plan?"),
    ("assistant", "Here is a practice plan for the cello: scales first, then slow passages, "
     "then the piece; suggest the plan to your teacher and practise daily."),
    ("user", "I'm training for the Bristol half marathon in May, could you plan my long runs?"),
    ("assistant", "Here is a plan for long runs before a half marathon in May: add a mile each "
     "week, slow the pace, and plan one easy week out of four."),
]  # fmt: skip
TRAIN = {  # questions whose answer is in a user's turn, and a word of that turn
    "Where is the allotment with my hives, and what should the inspection plan be?": "Hove",
    "Which city does Isla start school in, and what list did we draft?": "Brighton",
    "Who is my cello teacher, and what practice plan fits?": "Okafor",
}
HELD_OUT = (
    "How should the long runs be planned each week before the half marathon in May, at what pace?"
)


def _remember(memory: EngramMemory, user: str, speakers: dict[str, str]) -> None:
    memory.remember_many(
        [{"text": text, "metadata": {"speaker": speakers[role]}} for role, text in CHAT], user
    )


def _rank(memory: EngramMemory, user: str, query: str, needle: str) -> int:
    hits = memory.recall(query, user, k=len(CHAT))
    return next(n for n, h in enumerate(hits) if needle in h.engram.text and h.engram.speaker)


def test_role_tag_marks_chat_roles_only():
    assert role_tag("user") == [SAID_BY_USER] and role_tag("Human") == [SAID_BY_USER]
    assert role_tag("assistant") == [SAID_BY_MODEL] and role_tag("tool") == [SAID_BY_MODEL]
    assert role_tag("Caroline") == [] and role_tag(None) == []


ROLES = {"user": "user", "assistant": "assistant"}
NAMES = {"user": "a1", "assistant": "b2"}  # speakers that are neither a role nor a name
# Questions about the asker's own things (first person singular, no one else spoken to), about
# what the assistant said, and about neither.
ABOUT_SELF = ["Who is my cello teacher, and what practice plan fits?", "when do i run in May?"]
ABOUT_MODEL = [
    "What practice plan did you suggest for my cello?",
    "Which list was in your school plan?",
    "What was the inspection called in the plan you proposed?",
]
NEITHER = [
    *ABOUT_SELF,  # `first_person` starts at 0
    "Which city does Isla start school in, and what list did we draft?",
    "Let's plan my long runs",
    "Can you write a practice plan for my cello?",  # a request, not a question about the past
    "What do you suggest for the hives?",  # asks for advice now
    HELD_OUT,
    "plan",
]
WHOSE = {"first_person": "user", "second_person": "assistant"}


def test_a_question_says_whose_words_it_asks_about():
    assert all(asks_about_self(q) and not asks_about_model(q) for q in ABOUT_SELF)
    assert all(asks_about_model(q) and not asks_about_self(q) for q in ABOUT_MODEL)
    assert not any(asks_about_self(q) or asks_about_model(q) for q in NEITHER[len(ABOUT_SELF) :])
    assert asks_about_self("Which US state did I move to?")  # the country, not "us"
    assert not asks_about_self("What did we tell us?") and not asks_about_self("Is Isla's?")


def test_without_feedback_marking_roles_changes_no_score(tmp_path: Path, hashing):
    with (
        EngramMemory(tmp_path / "a.db", encoder=hashing) as marked,
        EngramMemory(tmp_path / "b.db", encoder=hashing) as plain,
    ):
        _remember(marked, "u", ROLES)
        _remember(plain, "u", NAMES)
        sketches = [e.sketch for e in marked.list("u")]
        assert sum(SAID_BY_USER in s for s in sketches) == 4
        assert sum(SAID_BY_MODEL in s for s in sketches) == 4
        for query in NEITHER:
            a = marked.recall(query, "u", k=len(CHAT))
            b = plain.recall(query, "u", k=len(CHAT))
            assert [h.engram.text for h in a] == [h.engram.text for h in b]
            assert [h.score for h in a] == [h.score for h in b]  # exactly: the tag score too
            keys = ["said_by_user", "said_by_model", *WHOSE]
            assert all(h.parts[key] == 0 for h in a for key in keys)
            # a signal at weight 0 moved nothing, so no explanation names it
            assert [h.explanation for h in a] == [h.explanation for h in b]


def test_an_explanation_names_only_the_rules_that_moved_the_hit(tmp_path: Path, hashing):
    """A question turn is "ranked below statements" only while `statement` weighs."""
    below = "a question, ranked below statements"
    texts = ["When is the cello lesson?", "The cello lesson is on Friday at five."]
    for weight, said in ((1.0, True), (0.0, False)):
        config = StoreConfig(weights=FusionWeights(statement=weight))
        with EngramMemory(tmp_path / f"{weight}.db", encoder=hashing, config=config) as memory:
            memory.remember_many(texts, "u")
            hits = memory.recall("cello lesson", "u", k=2)
            question = next(h for h in hits if h.engram.text == texts[0])
            assert (below in question.explanation) == said
            assert all(below not in h.explanation for h in hits if h is not question)


@pytest.mark.parametrize(
    ("query", "signal"),
    [(q, "first_person") for q in ABOUT_SELF] + [(q, "second_person") for q in ABOUT_MODEL],
)
def test_a_question_reads_the_turns_of_whom_it_asks_about(
    tmp_path: Path, hashing, query: str, signal: str
):
    config = StoreConfig(weights=FusionWeights(first_person=0.5))  # as second_person by default
    with (
        EngramMemory(tmp_path / "a.db", encoder=hashing, config=config) as marked,
        EngramMemory(tmp_path / "b.db", encoder=hashing, config=config) as plain,
    ):
        _remember(marked, "u", ROLES)
        _remember(plain, "u", NAMES)
        a = marked.recall(query, "u", k=len(CHAT))
        b = plain.recall(query, "u", k=len(CHAT))
        role = WHOSE[signal]
        theirs = {text for r, text in CHAT if r == role}
        for hit in a:
            said = hit.engram.text in theirs
            assert hit.parts[signal] == (pytest.approx(0.5) if said else 0)
            assert all(hit.parts[other] == 0 for other in WHOSE if other != signal)
            assert (f"said by the {role}, and the query asks" in hit.explanation) == said
        # their turns rise above the others', as far as the dense floor lets them
        rank = {h.engram.text: n for n, h in enumerate(a)}
        before = {h.engram.text: n for n, h in enumerate(b)}
        assert sum(rank[t] for t in theirs) < sum(before[t] for t in theirs)
        assert all(rank[t] <= before[t] for t in theirs)


def test_feedback_on_user_turns_raises_user_turns_for_later_queries(tmp_path: Path, hashing):
    with EngramMemory(tmp_path / "m.db", encoder=hashing) as memory:
        _remember(memory, "taught", ROLES)
        _remember(memory, "control", ROLES)
        before = _rank(memory, "taught", HELD_OUT, "Bristol")
        assert before > 0  # the assistant's plan outranks the user's fact at first
        for _ in range(5):
            for query, needle in TRAIN.items():
                hits = memory.recall(query, "taught", k=len(CHAT))
                used = next(h.engram.id for h in hits if needle in h.engram.text)
                weights = memory.feedback(used, "taught", useful=True)
        assert weights.said_by_user > 0 and weights.said_by_model == 0
        assert weights.first_person > 0  # two of the three questions ask about the asker
        assert memory.store.weights("control").said_by_user == 0
        # the held-out fact got no feedback of its own: only the learned role prior lifts it
        bristol = next(e for e in memory.list("taught") if "Bristol" in e.text)
        assert bristol.stats.usefulness == 0
        assert _rank(memory, "taught", HELD_OUT, "Bristol") < before
        assert _rank(memory, "control", HELD_OUT, "Bristol") == before


def test_replies_that_use_assistant_turns_teach_the_model_side(tmp_path: Path, hashing):
    with EngramMemory(tmp_path / "m.db", encoder=hashing) as memory:
        _remember(memory, "u", ROLES)
        query = next(iter(TRAIN))
        hits = memory.recall(query, "u", k=4)
        answer = next(
            h for h in hits if h.engram.speaker == "assistant" and "hive" in h.engram.text
        )
        use = memory.observe_reply(
            "Smoke the entrance, lift the frames one by one and look for eggs.",
            "u",
            hits,
            query=query,
        )
        assert use.used == [answer.engram.id]
        assert use.weights.said_by_model > 0 and use.weights.said_by_user == 0
