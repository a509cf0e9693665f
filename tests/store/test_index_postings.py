"""The index's postings arrays follow every write: extended in place after appends (a bulk load
converts the long ones up front), rebuilt after removals, always equal to the rows holding the
tag, ascending."""

from __future__ import annotations

import numpy as np

from engram_agents.store.index import ScopeIndex
from engram_agents.store.rows import EngramRow


def _row(n: int, tags: list[str]) -> EngramRow:
    return EngramRow(
        id=f"e{n}", user_id="u", agent_id=None, session_id=None, tier="short", active=True,
        when_ts=float(n), created_ts=float(n), tags=tags, vector=np.ones(4, np.float32) / 2,
        payload=b"{}",
    )  # fmt: skip


def _expected(index: ScopeIndex, tag: str) -> list[int]:
    return [i for i, tags in enumerate(index.tags) if tag in tags]


def test_postings_follow_appends_removals_and_rewrites():
    index = ScopeIndex(dim=4)
    index.upsert([_row(n, ["kw:common"] + (["kw:odd"] if n % 2 else [])) for n in range(1500)])
    assert "kw:common" in index._arrays and "kw:odd" not in index._arrays  # long: converted
    assert index.posting("kw:common").tolist() == list(range(1500))
    buffers = set()
    for n in range(1500, 1600):  # one write at a time, a recall after each
        index.upsert([_row(n, ["kw:common", "kw:new"])])
        assert index.posting("kw:common").tolist() == _expected(index, "kw:common")
        buffers.add(id(index._arrays["kw:common"][0]))
        assert index.posting("kw:new").tolist() == _expected(index, "kw:new")
    assert len(buffers) == 1  # extended in place (grown once, by doubling), never rebuilt
    index.remove(["e3", "e1200"])
    index.upsert([_row(7, ["kw:odd"])])  # a rewrite: e7 moves to the end, loses kw:common
    for tag in ("kw:common", "kw:odd", "kw:new"):
        assert index.posting(tag).tolist() == _expected(index, tag)
    assert 7 not in index.posting("kw:common") and index.posting("kw:odd")[-1] == 1600
    assert index.posting("kw:absent").size == 0


def test_a_posting_handed_out_keeps_its_rows_when_the_index_grows():
    index = ScopeIndex(dim=4)
    index.upsert([_row(0, ["kw:a"])])
    before = index.posting("kw:a")
    index.upsert([_row(n, ["kw:a"]) for n in range(1, 40)])
    assert before.tolist() == [0] and index.posting("kw:a").tolist() == list(range(40))


def test_holding_agrees_with_isin_after_writes_removals_and_rewrites():
    rng = np.random.default_rng(3)
    index = ScopeIndex(dim=4)
    tags = ["role:user", "role:assistant", "act:ask", "kw:rare"]

    def some(n: int) -> list[str]:
        return [t for t, p in zip(tags, (0.5, 0.5, 0.2, 0.01), strict=True) if rng.random() < p]

    index.upsert([_row(n, some(n)) for n in range(3000)])
    index.remove([f"e{n}" for n in rng.choice(3000, 300, replace=False)])
    index.upsert([_row(n, some(n)) for n in rng.choice(3000, 200, replace=False)])  # rewrites
    for _ in range(20):
        rows = rng.choice(3000 + 200, rng.integers(0, 500), replace=False)  # in any order
        for tag in [*tags, "kw:absent"]:
            expected = np.isin(rows, index.posting(tag))
            assert np.array_equal(index.holding(tag, rows), expected), tag
    assert index.holding("kw:absent", np.arange(5)).tolist() == [False] * 5
