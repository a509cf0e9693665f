"""Recall's dense stage on a device (store.device_search): the fp16 copy ranked by the masked
top-k kernel must find numpy's top, up to fp16 near-ties at the cut. No GPU here, so the device
path runs on CPU tensors with the Triton kernel swapped in (under the interpreter the root
conftest turns on), as tests/model/test_fused_lookup.py does for the fused lookup."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engram_agents.memory import EngramMemory
from engram_agents.store import device_search
from engram_agents.store.config import StoreConfig
from engram_agents.store.errors import InvalidInputError
from engram_agents.store.index import ScopeIndex
from engram_agents.store.rows import EngramRow

pytest.importorskip("triton")

from engram_kernels.topk_triton import masked_topk_triton

CPU = torch.device("cpu")
FP16_TOL = 2e-3  # a unit vector's dot product in fp16 is within ~1e-3 of float32's


@pytest.fixture
def kernel(monkeypatch):
    """The Triton kernel for the device path on CPU tensors; counts its calls."""
    calls = []

    def op(*args, **kwargs):
        calls.append(1)
        return masked_topk_triton(*args, **kwargs)

    monkeypatch.setattr(device_search, "masked_topk", op)
    return calls


def rows(rng: np.random.Generator, start: int, n: int, dim: int) -> list[EngramRow]:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return [
        EngramRow(f"e{i}", "u", None, None, "long", True, 0.0, float(i), [], v[i - start], b"")
        for i in range(start, start + n)
    ]


def assert_same_top(index: ScopeIndex, numpy_index: ScopeIndex, query, n, mask) -> None:
    """The device's top equals numpy's as a set, except rows tied with numpy's n-th score to
    fp16 precision."""
    got = index.dense_top(query, n, mask)
    want = numpy_index.dense_top(query, n, mask)
    sims = numpy_index.vectors[: len(mask)] @ query
    assert len(got) == len(want) == len(set(got.tolist())) == min(n, int(mask.sum()))
    assert mask[got].all()
    cut = sims[want].min()
    for row in set(got.tolist()) ^ set(want.tolist()):
        assert abs(sims[row] - cut) < FP16_TOL, (row, sims[row], cut)


def test_device_top_matches_numpy_through_writes_and_removals(kernel):
    rng = np.random.default_rng(0)
    dim = 20
    device, numpy_index = ScopeIndex(dim, device=CPU), ScopeIndex(dim)
    # the second batch outgrows the copy's first capacity (64): the growth keeps synced rows
    for batch in (rows(rng, 0, 50, dim), rows(rng, 50, 110, dim)):
        device.upsert(batch)
        numpy_index.upsert(batch)
        for n, frac in ((5, 1.0), (12, 0.3), (3, 0.05)):
            query = rng.standard_normal(dim).astype(np.float32)
            mask = device.alive[: device._size] & (rng.random(device._size) < frac)
            assert_same_top(device, numpy_index, query, n, mask)
    gone = [f"e{i}" for i in range(0, 160, 3)]
    device.remove(gone)
    numpy_index.remove(gone)
    updated = rows(rng, 5, 1, dim)  # an update: the old row leaves, the new one is appended
    device.upsert(updated)
    numpy_index.upsert(updated)
    query = updated[0].vector
    top = device.dense_top(query, 10)
    assert device.pos["e5"] in top.tolist()  # found at its new row, the fresh vector
    assert not {device.pos.get(g, -1) for g in gone} & set(top.tolist())
    assert_same_top(device, numpy_index, query, 10, device.alive[: device._size].copy())
    assert device.on_device.synced == device._size == 161
    assert len(kernel) == 8


def test_empty_mask_and_zero_n_find_nothing(kernel):
    index = ScopeIndex(8, device=CPU)
    index.upsert(rows(np.random.default_rng(1), 0, 30, 8))
    query = np.ones(8, dtype=np.float32)
    assert index.dense_top(query, 5, np.zeros(30, dtype=bool)).size == 0
    assert index.dense_top(query, 0).size == 0


def test_resolve_the_setting(monkeypatch, tmp_path):
    assert device_search.resolve("cpu") is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device_search.resolve("auto") is None
    with pytest.raises(InvalidInputError, match="no CUDA device"):
        device_search.resolve("cuda")
    with pytest.raises(InvalidInputError, match="no CUDA device"):
        EngramMemory(tmp_path / "m.db", config=StoreConfig(search_device="cuda"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device_search.resolve("auto") == torch.device("cuda")


def test_store_recall_is_the_same_with_the_device_path(tmp_path, hashing, kernel, monkeypatch):
    """A large scope (above full_scan_below) with the exact dense floor: every recall scans all
    vectors, on numpy in one store and through the kernel in a second store on the same file."""
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(60)]
    texts = [" ".join(rng.choice(words, size=6)) for _ in range(300)]
    config = StoreConfig(full_scan_below=50, dense_floor_full_scan=True, min_candidates=20)
    with EngramMemory(tmp_path / "m.db", encoder=hashing, config=config) as mem:
        mem.remember_many(texts, "u")
        queries = [" ".join(rng.choice(words, size=3)) for _ in range(6)]
        want = [[h.engram.id for h in mem.recall(q, "u", k=10)] for q in queries]
    monkeypatch.setattr(device_search, "resolve", lambda setting: CPU)
    with EngramMemory(tmp_path / "m.db", encoder=hashing, config=config) as mem:
        got = [[h.engram.id for h in mem.recall(q, "u", k=10)] for q in queries]
    assert len(kernel) == len(queries)
    assert got == want
