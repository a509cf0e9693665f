"""The role prior: whether the user's turns or the assistant's hold what gets used is learned per
store from feedback and observed replies; without either, marking who said a turn changes no
score and no rank, except for a question about the asker's own things, which the user's turns
answer (`FusionWeights.first_person`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.sketch import SAID_BY_MODEL, SAID_BY_USER, asks_about_self, role_tag

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
# Questions in the first person singular that speak to no one else, and questions that do not.
ABOUT_SELF = ["Who is my cello teacher, and what practice plan fits?", "when do i run in May?"]
NOT_ABOUT_SELF = [
    "What practice plan did you suggest for my cello?",
    "Which city does Isla start school in, and what list did we draft?",
    "Let's plan my long runs",
    HELD_OUT,
    "plan",
]


def test_a_question_is_about_the_asker_only_in_the_first_person_singular():
    assert all(asks_about_self(q) for q in ABOUT_SELF)
    assert asks_about_self("Which US state did I move to?")  # the country, not "us"
    assert not any(asks_about_self(q) for q in NOT_ABOUT_SELF)
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
        for query in NOT_ABOUT_SELF:
            a = marked.recall(query, "u", k=len(CHAT))
            b = plain.recall(query, "u", k=len(CHAT))
            assert [h.engram.text for h in a] == [h.engram.text for h in b]
            assert [h.score for h in a] == [h.score for h in b]  # exactly: the tag score too
            assert all(
                h.parts["said_by_user"] == h.parts["said_by_model"] == h.parts["first_person"] == 0
                for h in a
            )


@pytest.mark.parametrize("query", ABOUT_SELF)
def test_a_question_about_the_asker_reads_the_users_turns(tmp_path: Path, hashing, query: str):
    with (
        EngramMemory(tmp_path / "a.db", encoder=hashing) as marked,
        EngramMemory(tmp_path / "b.db", encoder=hashing) as plain,
    ):
        _remember(marked, "u", ROLES)
        _remember(plain, "u", NAMES)
        a = marked.recall(query, "u", k=len(CHAT))
        b = plain.recall(query, "u", k=len(CHAT))
        user = {text for role, text in CHAT if role == "user"}
        for hit in a:
            by_user = hit.engram.text in user
            assert hit.parts["first_person"] == (pytest.approx(0.5) if by_user else 0)
            assert ("said by the user, and the query asks" in hit.explanation) == by_user
        # the user's turns rise above the assistant's, as far as the dense floor lets them
        rank = {h.engram.text: n for n, h in enumerate(a)}
        before = {h.engram.text: n for n, h in enumerate(b)}
        assert sum(rank[t] for t in user) < sum(before[t] for t in user)
        assert all(rank[t] <= before[t] for t in user)


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
