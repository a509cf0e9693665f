"""Sentence and passage vectors held in float16 and scored in float32 (store.ragged,
store.sentences, store.index): the widening is numpy's own cast to the bit, and scores and lifts
stay within float16's rounding of the float32 vectors they were, whether the rows are gathered
or multiplied all at once."""

from __future__ import annotations

import numpy as np
import pytest

from engram_agents.store import ragged
from engram_agents.store.index import ScopeIndex
from engram_agents.store.passages import Passages
from engram_agents.store.ragged import RaggedRows, widened
from engram_agents.store.sentences import SentenceRows

DIM = 48
# A half's relative rounding is at most 2 ** -11, so a product of unit vectors moves by less.
HALF_ROUNDING = 2.0**-11 + 1e-6


def test_widened_is_numpys_own_cast_for_every_finite_half():
    halves = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = halves[np.isfinite(halves)]  # zeros of both signs and subnormals included
    expected = finite.astype(np.float32)
    got = widened(finite)
    assert got.dtype == np.float32 and np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    into = np.full((2, finite.size // 2), np.nan, dtype=np.float32)
    widened(finite[: into.size].reshape(into.shape), into)
    assert np.array_equal(into.ravel(), expected[: into.size])


def _filled(rows: RaggedRows, vectors: np.ndarray, counts: np.ndarray) -> None:
    added = rows.append(np.arange(counts.size), counts)
    rows.vectors[added] = vectors


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _filled_pair(make, positions: int):
    """Random unit rows for `positions` (0–3 each), in a float32 and a float16 `make(DIM)`."""
    rng = np.random.default_rng(positions)
    counts = rng.integers(0, 4, positions)
    vectors = _unit(rng, int(counts.sum()))
    single, half = make(DIM, dtype=np.float32), make(DIM, dtype=np.float16)
    _filled(single, vectors, counts)
    _filled(half, vectors, counts)
    assert (single.vectors.dtype, half.vectors.dtype) == (np.float32, np.float16)
    return rng, vectors, single, half


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(ragged, "_CHUNK", 64)  # several chunks, the last one partial


@pytest.mark.parametrize("positions", [3, 300, 2000])
def test_half_rows_score_as_the_single_rows_within_half_rounding(small_chunks, positions):
    rng, vectors, single, half = _filled_pair(RaggedRows, positions)
    assert half.vectors.nbytes * 2 == single.vectors.nbytes
    query = _unit(rng, 1)[0]
    exact = half.vectors[: half.used].astype(np.float32) @ query  # numpy's cast, no BLAS trick
    few = rng.choice(positions, max(1, positions // 20), replace=False)
    by_branch = {}
    for name, rows in (("gathered", few), ("all at once", np.arange(positions))):
        gather = half.runs(rows)[3]
        by_branch[name] = dict(zip(gather.tolist(), half.scores(gather, query), strict=True))
        assert np.array_equal(single.scores(gather, query), vectors[gather] @ query)
        np.testing.assert_allclose(half.scores(gather, query), exact[gather], atol=1e-6)
        if gather.size <= half.used // 4:  # read scaled down, the query scaled up: same bits
            assert np.array_equal(half.scores(gather, query), half.gathered(gather) @ query)
        np.testing.assert_allclose(
            half.scores(gather, query), vectors[gather] @ query, atol=HALF_ROUNDING, rtol=0
        )
    for row, score in by_branch["gathered"].items():  # the two branches agree row by row
        assert score == pytest.approx(by_branch["all at once"][row], abs=1e-6)


@pytest.mark.parametrize("positions", [40, 3000])
def test_half_sentences_lift_as_single_ones_within_half_rounding(small_chunks, positions):
    rng, _, single, half = _filled_pair(SentenceRows, positions)
    query = _unit(rng, 1)[0]
    for rows in (rng.choice(positions, 10, replace=False), np.arange(positions)):
        own = rng.uniform(0.1, 0.6, rows.size).astype(np.float32)
        expected = single.lift(rows, own, query, 0.35)
        got = half.lift(rows, own, query, 0.35)
        assert got.dtype == np.float32 and (expected > 0).any()
        np.testing.assert_allclose(got, expected, atol=1e-3, rtol=0)


def test_index_passages_are_held_in_half_and_score_as_the_single_ones_stored():
    rng = np.random.default_rng(7)
    stored = [Passages(np.zeros((k, 2), np.int64), _unit(rng, k)) for k in (2, 0, 3, 1)]
    index = ScopeIndex(DIM)
    index.passages.half_from = 4  # a large scope's: the six rows turn float16 as they arrive
    index._add_passages(0, [*stored, None])
    assert index.passages.vectors.dtype == np.float16
    query, own = _unit(rng, 1)[0], np.full(5, -1.0, dtype=np.float32)  # every passage counts
    raised, picked = index.with_passages(query, np.arange(5), own, "max")
    best = [(p.vectors @ query).max() if len(p) else -1.0 for p in stored] + [-1.0]
    np.testing.assert_allclose(raised, best, atol=HALF_ROUNDING, rtol=0)
    first = np.cumsum([0, *map(len, stored)])[:-1]
    wanted = [
        f + (p.vectors @ query).argmax() if len(p) else -1
        for f, p in zip(first, stored, strict=True)
    ]
    assert picked.tolist() == [*wanted, -1]


def test_rows_stay_single_in_a_small_scope_and_turn_half_past_the_threshold():
    rng = np.random.default_rng(11)
    vectors = _unit(rng, 30)
    rows = RaggedRows(DIM, half_from=20)
    added = rows.append(np.arange(10), np.ones(10, np.int64))
    rows.vectors[added] = vectors[:10]
    assert rows.vectors.dtype == np.float32  # 10 rows: kept as they came
    added = rows.append(np.arange(10, 20), np.full(10, 2, np.int64))
    rows.vectors[added] = vectors[10:]
    assert rows.vectors.dtype == np.float16 and rows.used == 30  # 30 rows: the first 10 too
    query = _unit(rng, 1)[0]
    gather = rows.runs(np.arange(20))[3]
    np.testing.assert_allclose(rows.scores(gather, query), vectors @ query, atol=HALF_ROUNDING)
    assert SentenceRows(DIM).vectors.dtype == ScopeIndex(DIM).passages.vectors.dtype == np.float32
