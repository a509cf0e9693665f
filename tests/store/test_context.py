"""Recall reads a turn together with the turn before it in its session."""

from __future__ import annotations

import numpy as np

from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.index import ScopeIndex
from engram_agents.store.rows import EngramRow


def _row(n: int, session: str | None, created: float, vector: np.ndarray) -> EngramRow:
    return EngramRow(
        id=f"e{n}", user_id="u", agent_id=None, session_id=session, tier="short", active=True,
        when_ts=created, created_ts=created, tags=[f"kw:t{n % 7}"], vector=vector, payload=b"",
    )  # fmt: skip


def _reference(rows: dict[str, EngramRow], query: np.ndarray, weight: float) -> dict[str, float]:
    """Cosine with normalize(v + weight * v_prev), prev found by sorting each session."""
    out = {}
    for row in rows.values():
        earlier = [
            r for r in rows.values()
            if row.session_id is not None and r.session_id == row.session_id
            and (r.created_ts, r.id) < (row.created_ts, row.id)
        ]  # fmt: skip
        v = row.vector.copy()
        if earlier:
            v = v + weight * max(earlier, key=lambda r: (r.created_ts, r.id)).vector
        out[row.id] = float(v @ query / np.linalg.norm(v))
    return out


def test_in_context_matches_blended_vectors_through_updates_and_deletes():
    rng = np.random.default_rng(0)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    index = ScopeIndex(dim=16)
    rows = {}
    for n in range(60):
        row = _row(n, rng.choice(["a", "b", "c", None]), float(n), unit(rng.normal(size=16)))
        rows[row.id] = row
        index.upsert([row])
    # re-upsert old rows (a reinforce or feedback), delete some, add a late row to a session
    index.upsert([rows["e3"], rows["e10"]])
    index.remove(["e20", "e41"])
    del rows["e20"], rows["e41"]
    late = _row(99, "a", 100.0, unit(rng.normal(size=16)))
    rows[late.id] = late
    index.upsert([late])
    query = unit(rng.normal(size=16))
    positions = np.asarray([index.pos[i] for i in rows])
    got = index.in_context(positions, index.vectors[positions] @ query, query, 0.3)
    want = _reference(rows, query, 0.3)
    np.testing.assert_allclose(got, [want[i] for i in rows], atol=1e-5)


def test_a_reply_is_found_by_the_question_it_answers(tmp_path, minilm):
    """Alone, the reply is less like the question than two unrelated turns of the same speaker;
    read after the turn it answers, it ranks above them."""
    turns = [
        "Leila: How did the marathon go on Sunday?",
        "Jonas: Four hours and twelve minutes! My legs are still jelly.",
        "Leila: Ha, I believe it. I'm making soup tonight.",
        "Jonas: Work was exhausting this week.",
        "Jonas: My knee hurts a bit today.",
    ]
    above = {}
    for weight in (0.0, 0.3):
        mem = EngramMemory(tmp_path / f"{weight}.db", encoder=minilm,
                           config=StoreConfig(context_weight=weight))  # fmt: skip
        stored = mem.remember_many(turns, "u", session_id="day-1")
        ids = [h.engram.id for h in mem.recall("How did Jonas do in the marathon?", "u", k=5)]
        above[weight] = ids.index(stored[1].id) < min(ids.index(e.id) for e in stored[3:])
    assert above == {0.0: False, 0.3: True}
