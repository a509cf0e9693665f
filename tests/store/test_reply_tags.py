"""A reply is read with the question it answers: a turn right after one that only asks takes
`StoreConfig.reply_tags` of that question's tag score when it is higher than its own
(`SessionLinks.with_questions`), and in large scopes it joins the candidates
(`SessionLinks.replies`) though it shares no tag with the query."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.index import ScopeIndex
from engram_agents.store.rows import EngramRow
from engram_agents.store.sketch import ASKS

# The reply holds the answer and none of the question's words; the question turn holds them.
TURNS = [
    ("Gordon", "Hannah love, how is the flat hunting going in Edinburgh?"),
    ("Hannah", "Slowly! I found a place near the Meadows though."),
    ("Gordon", "And when do you start at Cobalt Pay?"),
    ("Hannah", "On the 13th of March, so not long now."),
    ("Gordon", "Your dad will help with the van, I bet."),
    ("Hannah", "He will, poor man, all those stairs."),
]  # fmt: skip
QUERY = "When does she start at Cobalt Pay?"
REPLY = TURNS[3][1]


def _row(n: int, session: str | None, tags: list[str]) -> EngramRow:
    return EngramRow(
        id=f"e{n}", user_id="u", agent_id=None, session_id=session, tier="short", active=True,
        when_ts=float(n), created_ts=float(n), tags=tags, vector=np.ones(4, np.float32) / 2,
        payload=b"",
    )  # fmt: skip


def test_with_questions_matches_a_reference_through_updates_and_deletes():
    rng = np.random.default_rng(1)
    index, rows = ScopeIndex(dim=4), {}
    for n in range(80):
        tags = [f"kw:t{n % 5}"] + ([ASKS] if rng.random() < 0.4 else [])
        row = _row(n, rng.choice(["a", "b", None]), tags)
        rows[row.id] = row
        index.upsert([row])
    index.upsert([rows["e7"]])  # re-upserted: moves to the end of the arrays, same session place
    index.remove(["e30", "e31"])
    del rows["e30"], rows["e31"]
    ids = sorted(rows, key=lambda i: int(i[1:]))
    positions = np.asarray([index.pos[i] for i in ids])
    candidates = positions[rng.random(positions.size) < 0.7]  # some turns are no candidates
    lexical = rng.random(candidates.size).astype(np.float32)
    got, replied = index.with_questions(candidates, lexical, ASKS, 0.5)

    own = {index.ids[r]: float(s) for r, s in zip(candidates, lexical, strict=True)}
    for n, row_pos in enumerate(candidates):
        row = rows[index.ids[row_pos]]
        earlier = [r for r in rows.values() if row.session_id and r.session_id == row.session_id
                   and r.created_ts < row.created_ts]  # fmt: skip
        before = max(earlier, key=lambda r: r.created_ts) if earlier else None
        asked = 0.5 * own.get(before.id, 0.0) if before and ASKS in before.tags else 0.0
        assert got[n] == pytest.approx(max(own[row.id], asked))
        assert replied[n] == (asked > own[row.id])
    # the replies of the asking candidates: the turn after each, where there is one
    following = set(index.ids[r] for r in index.replies(candidates, ASKS))
    want = set()
    for row_pos in candidates:
        row = rows[index.ids[row_pos]]
        later = [r for r in rows.values() if row.session_id and r.session_id == row.session_id
                 and r.created_ts > row.created_ts]  # fmt: skip
        if ASKS in row.tags and later:
            want.add(min(later, key=lambda r: r.created_ts).id)
    assert following == want


def _memory(path: Path, encoder, turns=TURNS, **config) -> EngramMemory:
    memory = EngramMemory(path, encoder=encoder, config=StoreConfig(**config))
    memory.remember_many(
        [{"text": t, "metadata": {"speaker": who}, "session_id": "s1"} for who, t in turns], "u"
    )
    return memory


def test_the_reply_takes_its_questions_tags_and_nothing_else_moves(tmp_path: Path, hashing):
    weight = StoreConfig().reply_tags
    assert weight > 0
    with (
        _memory(tmp_path / "a.db", hashing) as on,
        _memory(tmp_path / "b.db", hashing, reply_tags=0) as off,
    ):
        hits = {h.engram.text: h for h in on.recall(QUERY, "u", k=len(TURNS))}
        before = {h.engram.text: h for h in off.recall(QUERY, "u", k=len(TURNS))}
        reply, question = hits[REPLY], hits[TURNS[2][1]]
        assert reply.matched_tags == [] and before[REPLY].parts["tags"] == 0
        assert question.parts["tags"] > 0
        assert reply.parts["tags"] == pytest.approx(weight * question.parts["tags"])
        assert reply.score > before[REPLY].score
        assert "the reply to a question that shares the query's tags" in reply.explanation
        assert "reply" not in before[REPLY].explanation
        for text, hit in hits.items():  # every other turn's signals are what they were
            if text != REPLY:
                assert hit.parts["tags"] == before[text].parts["tags"], text
                assert "reply" not in hit.explanation


def test_a_large_scope_takes_the_reply_as_a_candidate(tmp_path: Path, hashing):
    """Above `full_scan_below`, candidates are the turns sharing the query's tags; the reply to
    one that asks joins them (no dense candidates here: three turns share tags, k is 3, and
    `min_candidates` and the floor are 0)."""
    large = {"full_scan_below": 0, "min_candidates": 0, "dense_floor": 0.0}
    turns = [*TURNS, ("Gordon", "The pay is good there."), ("Hannah", "The pay is fine.")]
    with (
        _memory(tmp_path / "a.db", hashing, turns, **large) as on,
        _memory(tmp_path / "b.db", hashing, turns, reply_tags=0, **large) as off,
    ):
        assert REPLY in [h.engram.text for h in on.recall(QUERY, "u", k=3)]
        assert REPLY not in [h.engram.text for h in off.recall(QUERY, "u", k=3)]


def test_a_statement_passes_nothing_to_the_turn_after_it(tmp_path: Path, hashing):
    turns = [(who, text.replace("And when do you start", "You start")) for who, text in TURNS]
    turns[2] = ("Gordon", "You start at Cobalt Pay soon.")
    with EngramMemory(tmp_path / "m.db", encoder=hashing) as memory:
        memory.remember_many(
            [{"text": t, "metadata": {"speaker": w}, "session_id": "s1"} for w, t in turns], "u"
        )
        hit = next(h for h in memory.recall(QUERY, "u", k=6) if h.engram.text == REPLY)
        assert hit.parts["tags"] == 0 and "reply" not in hit.explanation


def test_no_tag_weight_no_reply_named(tmp_path: Path, hashing):
    """An explanation names a rule only where it moved the hit: with the tag weight learned to
    0, taking the question's tags moves nothing."""
    with _memory(tmp_path / "m.db", hashing, weights={"tags": 0.0}) as memory:
        hit = next(h for h in memory.recall(QUERY, "u", k=6) if h.engram.text == REPLY)
        assert hit.parts["tags"] == 0 and "reply" not in hit.explanation
