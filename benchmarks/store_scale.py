"""Recall latency of the episodic store at 10k / 100k / 1M synthetic engrams for one user
(query encoding excluded: vectors are synthetic and the query encoder is a lookup).

    python benchmarks/store_scale.py --sizes 10000 100000 [1000000]

Engrams are written in bulk through the SQLite backend (the write path's duplicate check is
skipped to build large stores quickly); recall goes through the normal two-stage path:
sketch-tag candidates, dense rank over them, fused score, plus the audit write.
The last line printed is one JSON object."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engram_agents.store.backends.sqlite import SQLiteBackend
from engram_agents.store.records import Engram, Scope
from engram_agents.store.sketch import extract_sketch
from engram_agents.store.store import EpisodicStore

DIM = 384
WORDS = [f"w{i:05d}" for i in range(20_000)]


class LookupEncoder:
    """Returns precomputed vectors: the benchmark times the store, not the encoder."""

    dim, name = DIM, "lookup"

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def build(store: EpisodicStore, n: int, rng: np.random.Generator, chunk: int = 20_000) -> float:
    start = time.perf_counter()
    zipf = np.minimum(rng.zipf(1.3, size=(n, 8)), len(WORDS)) - 1
    for lo in range(0, n, chunk):
        rows = []
        vectors = _unit(rng, min(chunk, n - lo))
        for j, vec in enumerate(vectors):
            text = " ".join(WORDS[w] for w in zipf[lo + j])
            engram = Engram(scope=Scope(user_id="u"), text=text)
            engram.sketch = extract_sketch(text)
            rows.append(store.codec.to_row(engram, vec))
        store.backend.write(rows, [], [], {"u"})
    return time.perf_counter() - start


def _latencies(store: EpisodicStore, texts: list[str]) -> dict[str, float]:
    latencies = []
    for text in texts:
        t0 = time.perf_counter()
        store.recall("u", text, k=10)
        latencies.append((time.perf_counter() - t0) * 1000)
    return {
        "p50": round(float(np.percentile(latencies, 50)), 3),
        "p95": round(float(np.percentile(latencies, 95)), 3),
    }


def measure(n: int, queries: int, rng: np.random.Generator) -> dict:
    encoder = LookupEncoder()
    with tempfile.TemporaryDirectory() as tmp:
        store = EpisodicStore(SQLiteBackend(Path(tmp) / "scale.db"), encoder)
        build_s = build(store, n, rng)
        start = time.perf_counter()
        store._index("u")
        load_s = time.perf_counter() - start
        texts = [
            " ".join(WORDS[w] for w in np.minimum(rng.zipf(1.3, 4), len(WORDS)) - 1)
            for _ in range(queries)
        ]
        for text, vec in zip(texts, _unit(rng, queries), strict=True):
            encoder.vectors[text] = vec
        store.recall("u", texts[0], k=10)  # warm-up
        latencies = _latencies(store, texts)
        # the same store and queries with an exact dense floor (one full scan per recall)
        store.config = store.config.model_copy(update={"dense_floor_full_scan": True})
        full_scan = _latencies(store, texts)
        store.backend.close()
    return {
        "engrams": n,
        "recall_ms": latencies,
        "recall_ms_dense_floor_full_scan": full_scan,
        "build_s": round(build_s, 1),
        "index_load_s": round(load_s, 2),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    results = [measure(n, args.queries, rng) for n in args.sizes]
    for r in results:
        print(f"{r['engrams']:>9} engrams  p50 {r['recall_ms']['p50']:.2f} ms  "
              f"p95 {r['recall_ms']['p95']:.2f} ms (exact dense floor: "
              f"p95 {r['recall_ms_dense_floor_full_scan']['p95']:.2f} ms)")  # fmt: skip
    machine = {"platform": platform.platform(), "processor": platform.machine()}
    import os

    machine["cpus"] = os.cpu_count()
    print(json.dumps({"store_scale": results, "machine": machine}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
