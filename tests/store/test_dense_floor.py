"""The dense floor: whatever the fusion does, every prefix of a recall's results holds dense
retrieval's own top floor(share * n)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.fusion import with_dense_floor


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 0.6, 1.0])
def test_every_prefix_holds_the_dense_top(share):
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        fused, dense = rng.normal(size=n), rng.normal(size=n)
        if rng.random() < 0.3:
            dense = np.round(dense, 1)  # ties: dense's order breaks them by position
        k = int(rng.integers(1, 30))
        order, floored = with_dense_floor(fused, dense, share, k)
        assert len(order) == min(k, n) == len(set(order.tolist())) == len(floored)
        by_dense = np.argsort(-dense, kind="stable").tolist()
        by_fused = np.argsort(-fused, kind="stable").tolist()
        for m in range(1, len(order) + 1):
            assert set(by_dense[: math.floor(share * m + 1e-9)]) <= set(order[:m].tolist())
        # an item the floor put in is one the fused order alone would not have had there
        for m, (i, by_floor) in enumerate(zip(order, floored, strict=True), 1):
            assert not by_floor or i not in by_fused[:m]
        if share == 0:
            assert order.tolist() == by_fused[:k]
        if share == 1:
            assert order.tolist() == by_dense[:k]


def test_fused_first_result_stays_first_below_full_share():
    order, _ = with_dense_floor(np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.5]), 0.5, 3)
    assert order.tolist() == [1, 0, 2]


def _memory(tmp_path, hashing, share: float) -> EngramMemory:
    mem = EngramMemory(
        tmp_path / f"m{share}.db", encoder=hashing, config=StoreConfig(dense_floor=share)
    )
    mem.remember_many(
        [
            "What time is the standup meeting these days?",
            "The standup meeting moved to the big room.",
            "The standup meeting notes go into the team wiki.",
            "The meeting room has a new projector.",
        ],
        "u",
    )
    return mem


def test_store_keeps_the_dense_top_the_fusion_demotes(tmp_path, hashing):
    query = "What time is the standup meeting?"
    dense_top = "What time is the standup meeting these days?"
    fused_only = _memory(tmp_path, hashing, 0.0).recall(query, "u", k=2)
    # the fusion alone ranks the earlier question below two statements ...
    assert dense_top not in [h.engram.text for h in fused_only]
    hits = _memory(tmp_path, hashing, 0.5).recall(query, "u", k=2)
    # ... the floor keeps it in the top 2, second, and says why
    assert [h.engram.text for h in hits][1] == dense_top
    assert "dense floor" in hits[1].explanation and "dense floor" not in hits[0].explanation
    assert hits[0].engram.text == fused_only[0].engram.text


def test_scores_fall_in_the_floor_order(tmp_path, hashing):
    """A caller that sorts or merges hits by score (the LangChain store does) keeps the floor:
    the hit the floor moved up is scored as the best hit below it."""
    hits = _memory(tmp_path, hashing, 0.5).recall("What time is the standup meeting?", "u", k=3)
    assert "dense floor" in hits[1].explanation
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[1].score == hits[2].score
    texts = [h.engram.text for h in sorted(hits, key=lambda h: -h.score)]
    assert texts == [h.engram.text for h in hits]


def test_bad_share_is_refused():
    with pytest.raises(ValueError, match="dense_floor"):
        StoreConfig(dense_floor=1.5)


def test_large_scopes_hold_the_exact_floor_with_a_full_scan(tmp_path, hashing):
    """Above `full_scan_below` only stage-1 candidates are ranked; `dense_floor_full_scan`
    adds dense retrieval's own top to them, so the floor is exact there too."""
    rng = np.random.default_rng(3)
    words = [f"word{i}" for i in range(40)]
    texts = [" ".join(rng.choice(words, 5, replace=False)) + f" item {i}." for i in range(80)]
    config = StoreConfig(
        full_scan_below=0, min_candidates=0, candidate_limit=10, dense_floor_full_scan=True
    )
    mem = EngramMemory(tmp_path / "large.db", encoder=hashing, config=config)
    mem.remember_many(texts, "u")
    vectors = hashing.encode(texts)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for _ in range(10):
        query = " ".join(rng.choice(words, 3, replace=False))
        q = hashing.encode([query])[0]
        fourth = np.sort(vectors @ (q / np.linalg.norm(q)))[-4]
        hits = mem.recall(query, "u", k=8)
        # dense's top 4 (any of them, where several are tied) are among the 8 results
        assert sum(h.similarity >= fourth - 1e-5 for h in hits) >= 4
