"""The answer-kind prior: a question that asks for a number, a time or a name ("How much...?",
"When...?", "Who...?") reads the turns that hold one (`sketch.HOLDS` marks) as more likely to
answer it (`FusionWeights.answer_kind`); a question that asks for no kind ranks exactly as
without the marks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.query_reading import asks_for
from engram_agents.store.sketch import HOLDS, MARKS, engram_sketch, extract_sketch

# Friends texting about a trip: the turns that answer "how much", "who" and "when" hold a
# number, a name and a time; the talk around them shares the trip's words and holds none.
TURNS = [
    ("Nadia", "The flights for our trip are booked."),
    ("Fiona", "Ooh, are the flights for the trip dear?"),
    ("Nadia", "The flights were 400 pounds, trip included."),
    ("Fiona", "Flights for a trip are never cheap, are they."),
    ("Nadia", "Just me and Marcus coming on the trip."),
    ("Fiona", "Who else is coming on a trip like that?"),
    ("Nadia", "The flights leave on Saturday."),
    ("Fiona", "The trip and the flights sound so lovely."),
]  # fmt: skip
ASKED = {  # question: the turn that answers it, and whether it ranks first only with the mark
    "How much were the flights for the trip?": (TURNS[2][1], True),
    "Who is coming on the trip?": (TURNS[4][1], False),  # first either way
    "When do the flights for the trip leave?": (TURNS[6][1], True),
}
NOT_ASKED = ["What did Fiona ask for from the trip?", "Are the flights booked?"]
WHEN = datetime(2024, 5, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    "question, kind",
    [
        ("How many tickets did Ana buy?", "number"),
        ("how much was the deposit", "number"),
        ("What percentage of the budget went on food?", "number"),
        ("How long did the drive take?", "number"),
        ("When did Gordon go to Madeira?", "time"),
        ("In which year did they move?", "time"),
        ("What day is the party?", "time"),
        ("Who did Gordon travel with?", "name"),
        ("Whose idea was the choir?", "name"),
        ("Where does the choir meet?", "name"),
        ("What did Ana bake?", None),
        ("What did she do when it rained?", None),  # only the first question word counts
        ("How did the race go?", None),
        ("Why did he leave?", None),
        ("Add a supplier model", None),
    ],
)
def test_asks_for_reads_the_first_question_word(question: str, kind: str | None):
    assert asks_for(question) == kind


def test_a_turn_holds_the_kinds_its_own_tags_hold():
    def marks(text: str, speaker: str | None = "Gordon") -> set[str]:
        return {t for t in engram_sketch(text, WHEN, speaker) if t.startswith("holds:")}

    assert marks("We paid 30 pounds.") == {HOLDS["number"]}
    assert marks("I went yesterday.") == {HOLDS["time"]}  # a date resolved from the event time
    assert marks("We fly on Saturday.") == {HOLDS["time"]}  # a weekday, no date
    assert marks("I travelled with my pal Ray.") == {HOLDS["name"]}
    assert marks("Lovely, so lovely.") == set()  # the speaker's own name is no answer
    assert marks("I paid 30 pounds with Ray at 7pm.") == set(HOLDS.values())
    assert set(HOLDS.values()) <= MARKS  # marks: never matched by a query's tags, not counted
    assert not {t for t in extract_sketch("Who paid 30 pounds on Saturday?") if t in MARKS}


def _memory(path: Path, encoder, weight: float, **kwargs) -> EngramMemory:
    config = StoreConfig(weights=FusionWeights(answer_kind=weight))
    memory = EngramMemory(path, encoder=encoder, config=config, **kwargs)
    memory.remember_many(
        [
            {"text": text, "metadata": {"speaker": who}, "session_id": "s1", "event_time": WHEN}
            for who, text in TURNS
        ],
        "u",
    )
    return memory


def _texts(memory: EngramMemory, query: str) -> list[str]:
    return [h.engram.text for h in memory.recall(query, "u", k=len(TURNS))]


def test_the_turn_holding_the_asked_kind_rises(tmp_path: Path, hashing):
    weight = FusionWeights().answer_kind
    assert weight > 0
    with (
        _memory(tmp_path / "a.db", hashing, weight) as marked,
        _memory(tmp_path / "b.db", hashing, 0.0) as plain,
    ):
        for query, (answer, rises) in ASKED.items():
            with_mark, without = _texts(marked, query), _texts(plain, query)
            assert with_mark.index(answer) == 0, query
            assert (without.index(answer) > 0) == rises, query
            hits = marked.recall(query, "u", k=len(TURNS))
            hit = next(h for h in hits if h.engram.text == answer)
            assert hit.parts["answer_kind"] == pytest.approx(weight)
            assert "kind of answer the query asks for" in hit.explanation
            kind = HOLDS[asks_for(query)]
            for other in hits:  # exactly the turns holding the asked kind get the part
                holds_it = kind in other.engram.sketch
                assert (other.parts["answer_kind"] > 0) == holds_it, other.engram.text


def test_questions_asking_for_no_kind_rank_exactly_as_without_the_marks(tmp_path: Path, hashing):
    with (
        _memory(tmp_path / "a.db", hashing, 0.15) as marked,
        _memory(tmp_path / "b.db", hashing, 0.0) as plain,
    ):
        for query in NOT_ASKED:
            a, b = marked.recall(query, "u", k=len(TURNS)), plain.recall(query, "u", k=len(TURNS))
            assert [(h.engram.text, h.score, h.explanation) for h in a] == [
                (h.engram.text, h.score, h.explanation) for h in b
            ]
            assert all(h.parts["answer_kind"] == 0 for h in a)


def test_an_encrypted_store_reads_the_hashed_marks(tmp_path: Path, hashing):
    from engram_agents.store.crypto import generate_key

    with (
        _memory(tmp_path / "e.db", hashing, 0.15, encryption_key=generate_key()) as sealed,
        _memory(tmp_path / "p.db", hashing, 0.15) as plain,
    ):
        for query in ASKED:
            assert _texts(sealed, query) == _texts(plain, query)


def test_resketch_gives_an_older_store_the_marks(tmp_path: Path, hashing, monkeypatch):
    from engram_agents.store import sketch
    from engram_agents.store.migrate import resketch

    path = tmp_path / "old.db"
    monkeypatch.setattr(sketch, "holds", lambda tags: set())  # before the marks
    _memory(path, hashing, 0.15).close()
    monkeypatch.undo()
    marked = [t for _, t in TURNS if any(m in engram_sketch(t, WHEN) for m in HOLDS.values())]
    assert resketch(path) == len(marked) >= 3
    with (
        EngramMemory(path, encoder=hashing) as old,
        _memory(tmp_path / "new.db", hashing, 0.15) as new,
    ):
        for query in ASKED:
            assert _texts(old, query) == _texts(new, query)
