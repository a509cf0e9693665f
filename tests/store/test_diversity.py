"""Diversified recall (`StoreConfig.diversity`): near-repeats of a result already picked make
room for a different one, the fused first result stays first, and the dense floor still holds."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.fusion import diversified, with_dense_floor


def _unit(rows: list[list[float]]) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_near_repeat_of_the_first_pick_yields_to_a_different_candidate():
    fused = np.array([1.0, 0.95, 0.8], dtype=np.float32)
    vectors = _unit([[1, 0], [1, 0.05], [0, 1]])  # 1 nearly repeats 0; 2 is different
    rows = np.arange(3)
    assert np.argsort(-diversified(fused, vectors, rows, 3, 0.0)).tolist() == [0, 1, 2]
    out = diversified(fused, vectors, rows, 3, 0.5)
    assert np.argsort(-out).tolist() == [0, 2, 1]
    assert out[0] == fused[0]  # the first pick keeps its score
    assert np.all(out <= fused + 1e-6)  # no candidate scores above its fused score


def test_candidates_not_picked_stay_below_every_pick():
    rng = np.random.default_rng(5)
    for _ in range(50):
        n, k = int(rng.integers(2, 60)), int(rng.integers(2, 12))
        fused = rng.normal(size=n).astype(np.float32)
        vectors = rng.normal(size=(n, 8)).astype(np.float32)
        out = diversified(fused, vectors, np.arange(n), k, float(rng.uniform(0, 1)))
        order = np.argsort(-out, kind="stable")
        picked = order[: min(k, n)]
        assert picked[0] == int(np.argmax(fused))
        assert np.all(np.diff(out[order]) <= 0)
        if n > k:
            assert out[order[k:]].max() < out[picked].min()
        assert np.all(out <= fused + 1e-6)


@pytest.mark.parametrize("share", [0.25, 0.5])
def test_the_dense_floor_holds_over_the_diversified_order(share):
    rng = np.random.default_rng(11)
    for _ in range(100):
        n, k = int(rng.integers(2, 50)), int(rng.integers(1, 30))
        fused = rng.normal(size=n).astype(np.float32)
        dense = rng.normal(size=n).astype(np.float32)
        vectors = rng.normal(size=(n, 8)).astype(np.float32)
        out = diversified(fused, vectors, np.arange(n), k, 0.5)
        order, _ = with_dense_floor(out, dense, share, k)
        by_dense = np.argsort(-dense, kind="stable").tolist()
        for m in range(1, len(order) + 1):
            assert set(by_dense[: math.floor(share * m + 1e-9)]) <= set(order[:m].tolist())


class _Fixed:
    """An encoder with hand-set vectors, so the test states which turns repeat each other."""

    dim, name = 3, "fixed"
    VECTORS: ClassVar[dict[str, list[float]]] = {
        "Where did we go camping?": [1.0, 0.0, 0.0],
        "We went camping in the mountains.": [0.9, 0.43, 0.0],
        "Camping in the mountains was fun.": [0.9, 0.3, 0.3],
        "The mountains were great for camping.": [0.9, 0.2, -0.39],
        "Our camping trip to the beach was in May.": [0.85, -0.4, 0.3],
        "The new printer jams every morning.": [0.0, -0.6, -0.8],
    }

    def encode(self, texts: list[str]) -> np.ndarray:
        return _unit([self.VECTORS[t] for t in texts])


def _memory(tmp_path, diversity: float) -> EngramMemory:
    # the hand-set vectors alone decide: the content signal is off (the tellings' tag counts differ)
    config = StoreConfig(diversity=diversity, dense_floor=0.0, weights=FusionWeights(content=0))
    mem = EngramMemory(tmp_path / f"d{diversity}.db", encoder=_Fixed(), config=config)
    mem.remember_many(list(_Fixed.VECTORS)[1:], "u")
    return mem


def test_recall_finds_a_second_event_instead_of_a_repeat(tmp_path):
    query = "Where did we go camping?"
    plain = [
        h.engram.text
        for h in _memory(tmp_path, 0.0).recall(query, "u", k=3, include_superseded=True)
    ]
    assert not any("beach" in t for t in plain)  # three tellings of one trip fill the top 3
    hits = _memory(tmp_path, 0.5).recall(query, "u", k=3, include_superseded=True)
    texts = [h.engram.text for h in hits]
    assert texts[0] == plain[0] and "beach" in texts[1]
    for hit in hits:  # the parts (a negative `redundancy` among them) still sum to the score
        assert sum(hit.parts.values()) == pytest.approx(hit.score, abs=1e-4)
    assert "redundancy" not in hits[0].parts and hits[2].parts["redundancy"] < 0


def test_negative_diversity_is_refused():
    with pytest.raises(ValueError, match="diversity"):
        StoreConfig(diversity=-0.1)
