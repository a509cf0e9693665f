"""Recall latency of the episodic store at 10k / 100k / 1M synthetic engrams for one user
(query encoding excluded: vectors are synthetic and the query encoder is a lookup; with
`--encode-queries` the embedded MiniLM also encodes a real question inside each timed recall, so
the figure is end to end, while ranking still uses the synthetic vectors). The questions paid
for are those of `data/locomo_dev_a.json` in turn (13 word pieces on average, as real LoCoMo
questions; a synthetic 6-word query would be 27).

    python benchmarks/store_scale.py --sizes 10000 100000 [1000000] [--turn-words 120]
    python benchmarks/store_scale.py --sizes 100000 --encode-queries
    python benchmarks/store_scale.py --sizes 10000 100000 --touch-cost --baseline /work/main

Stored turns are long-turn-like by default: `--turn-words` words each (120: about the length of
an assistant's answer), drawn from a 20,000-word vocabulary with Zipf's law (rank r has
probability ∝ 1/r), so common words sit in most turns and their postings lists are huge, as in
real chats; queries are 6 words drawn the same way. `--turn-words 8` gives the old short turns.

Engrams are written in bulk through the SQLite backend (the write path's duplicate check is
skipped to build large stores quickly); recall goes through the normal two-stage path:
sketch-tag candidates, dense rank over them, fused score, plus the access count and audit write.
Each query is timed on the wall clock and in thread CPU time (`time.thread_time`, which other
processes on a shared machine do not inflate), and CPU time is split into the recall's stages.
The last line printed is one JSON object.

`--touch-cost` measures only what recall's counts cost the store: a flush of the write-behind
buffer (`touch_buffer` recalls of 10 random hits each, with their audit entries) in thread CPU
per recall, and the reads that add the counts in (10 hit records, the index-load scan), in child
processes that run this checkout's code and, alternating with it, the code at `--baseline` (a
checkout of main), on the same store file."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engram_agents.store import fusion, ranker
from engram_agents.store.backends.sqlite import SQLiteBackend
from engram_agents.store.backends.touches import TouchBuffer
from engram_agents.store.config import StoreConfig
from engram_agents.store.encoders import Encoder, default_encoder
from engram_agents.store.index import ScopeIndex
from engram_agents.store.records import Engram, Scope
from engram_agents.store.rows import AuditEvent, Codec
from engram_agents.store.sketch import extract_sketch
from engram_agents.store.store import EpisodicStore
from engram_agents_demo.bench.recall import machine

DIM = 384
WORDS = [f"w{i:05d}" for i in range(20_000)]
QUERY_WORDS = 6
FLUSH = "buffered touches written (any thread)"


class LookupEncoder:
    """Returns precomputed vectors: the benchmark times the store, not the encoder."""

    dim, name = DIM, "lookup"

    def __init__(self, paying: Encoder | None = None) -> None:
        self.vectors: dict[str, np.ndarray] = {}
        self.paying = paying  # encodes a real question per query, for the cost, vector unused
        self.questions = itertools.cycle(_questions() if paying is not None else [])

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.paying is not None:
            self.paying.encode([next(self.questions) for _ in texts])
        return np.stack([self.vectors[t] for t in texts])


def _questions() -> list[str]:
    conversations = json.loads((Path(__file__).parent / "data" / "locomo_dev_a.json").read_text())
    return [qa["question"] for c in conversations for qa in c["qa"]]


class StageClock:
    """Thread CPU time per recall stage, by wrapping the functions each stage calls."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: object, attr: str, stage: str) -> None:
        inner = getattr(owner, attr)

        def timed(*args, **kwargs):
            t0 = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.spent[stage] += time.thread_time() - t0

        setattr(owner, attr, timed)
        self._undo.append(lambda: setattr(owner, attr, inner))

    def install(self, store: EpisodicStore) -> None:
        self.wrap(store.query_vectors, "encode", "query encode")
        self.wrap(ranker, "extract_sketch", "query sketch")
        self.wrap(ranker, "find_time_mentions", "query sketch")
        self.wrap(store, "_mask", "filter mask")
        for attr in ("lexical", "dense_top", "similarities", "in_context"):
            self.wrap(ScopeIndex, attr, f"index.{attr}")
        self.wrap(fusion, "features", "fusion.features")
        self.wrap(fusion, "with_dense_floor", "fusion.with_dense_floor")
        self.wrap(fusion, "diversified", "fusion.diversified")
        self.wrap(store.backend, "records_many", "backend.records_many (hit rows)")
        self.wrap(Codec, "to_engram", "codec.to_engram (decode)")
        self.wrap(store.backend, "touch", "backend.touch (+audit)")
        if isinstance(store.backend, TouchBuffer):  # its flushes, on whichever thread runs them
            self.wrap(store.backend.inner, "touch", FLUSH)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _texts(rng: np.random.Generator, n: int, words: int) -> list[str]:
    p = 1.0 / np.arange(1, len(WORDS) + 1)
    drawn = rng.choice(len(WORDS), size=(n, words), p=p / p.sum())
    return [" ".join(WORDS[w] for w in row) for row in drawn]


def build(
    store: EpisodicStore, n: int, words: int, rng: np.random.Generator, chunk: int = 20_000
) -> float:
    start = time.perf_counter()
    for lo in range(0, n, chunk):
        size = min(chunk, n - lo)
        rows = []
        for text, vec in zip(_texts(rng, size, words), _unit(rng, size), strict=True):
            engram = Engram(scope=Scope(user_id="u"), text=text)
            engram.sketch = extract_sketch(text)
            rows.append(store.codec.to_row(engram, vec))
        store.backend.write(rows, [], [], {"u"})
    return time.perf_counter() - start


def _pct(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(values, 50)), 3),
        "p95": round(float(np.percentile(values, 95)), 3),
        "mean": round(float(np.mean(values)), 3),
    }


def _latencies(store: EpisodicStore, texts: list[str]) -> dict:
    wall, cpu = [], []
    clock = StageClock()
    clock.install(store)
    try:
        for text in texts:
            t0, c0 = time.perf_counter(), time.thread_time()
            store.recall("u", text, k=10)
            cpu.append((time.thread_time() - c0) * 1000)
            wall.append((time.perf_counter() - t0) * 1000)
        store.backend.checkpoint()  # writes what waits, so every run pays for its own touches
    finally:
        clock.uninstall()
    stages = {k: round(v * 1000 / len(texts), 3) for k, v in clock.spent.items()}
    flushed = stages.pop(FLUSH, 0.0)  # off the recall's thread when the timer writes them
    stages["other (python glue)"] = round(float(np.mean(cpu)) - sum(stages.values()), 3)
    return {
        "wall_ms": _pct(wall),
        "cpu_ms": _pct(cpu),
        "cpu_ms_per_stage_mean": stages,
        "touch_write_cpu_ms_per_recall": flushed,
    }


def measure(
    n: int, queries: int, words: int, rng: np.random.Generator, paying: Encoder | None
) -> dict:
    encoder = LookupEncoder(paying)
    with tempfile.TemporaryDirectory() as tmp:
        # every query encoded, as a new one is: the full-scan pass asks the same texts again
        config = StoreConfig(query_cache=0)
        store = EpisodicStore(SQLiteBackend(Path(tmp) / "scale.db"), encoder, config)
        build_s = build(store, n, words, rng)
        start = time.perf_counter()
        store._index("u")
        load_s = time.perf_counter() - start
        texts = _texts(rng, queries, QUERY_WORDS)
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
        "turn_words": words,
        "queries_encoded_by": None if paying is None else paying.name,
        "recall": latencies,
        "recall_dense_floor_full_scan": full_scan,
        "build_s": round(build_s, 1),
        "index_load_s": round(load_s, 2),
    }


def touch_child(path: str, flushes: int, batch: int, seed: int) -> dict:
    """Run by `touch_cost` in a child process, on whichever code its PYTHONPATH gives."""
    backend = SQLiteBackend(path)
    ids = [r[0] for r in backend._db.execute("SELECT id FROM engrams")]
    rng = np.random.default_rng(seed)
    flush_cpu, flush_wall, read_cpu = 0.0, 0.0, 0.0
    for _ in range(flushes):
        hits = [[ids[i] for i in rng.choice(len(ids), 10, replace=False)] for _ in range(batch)]
        accesses: dict[str, tuple[int, float]] = {}
        for listed in hits:
            for engram_id in listed:
                accesses[engram_id] = (accesses.get(engram_id, (0, 0.0))[0] + 1, time.time())
        events = [AuditEvent("u", "recall", listed, {"k": 10}) for listed in hits]
        t0, c0 = time.perf_counter(), time.thread_time()
        backend.touch(accesses, events)
        flush_cpu += time.thread_time() - c0
        flush_wall += time.perf_counter() - t0
        c0 = time.thread_time()
        for listed in hits[:64]:
            backend.records_many({"u": listed})
        read_cpu += time.thread_time() - c0
    c0 = time.thread_time()
    scanned = sum(1 for _ in backend.scan("u"))
    scan_cpu = time.thread_time() - c0
    backend.close()
    recalls = flushes * batch
    return {
        "flush_cpu_ms_per_recall": round(flush_cpu * 1000 / recalls, 4),
        "flush_wall_ms_per_recall": round(flush_wall * 1000 / recalls, 4),
        "hit_records_cpu_ms_per_recall": round(read_cpu * 1000 / (flushes * 64), 4),
        "scan_cpu_s": round(scan_cpu, 3),
        "scanned": scanned,
    }


def touch_cost(n: int, args: argparse.Namespace, rng: np.random.Generator) -> dict:
    """Build one store, then time flushes on it with each code in turn, alternating."""
    codes = {"branch": Path(__file__).resolve().parents[1]}
    if args.baseline:
        codes = {"baseline": Path(args.baseline).resolve(), **codes}
    runs: dict[str, list[dict]] = {name: [] for name in codes}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "touch.db")
        store = EpisodicStore(SQLiteBackend(path), LookupEncoder())
        build_s = build(store, n, args.turn_words, rng)
        store.backend.close()
        for repeat in range(args.repeats):
            for name, root in codes.items():
                env = {**os.environ, "PYTHONPATH": f"{root}:{root / 'kernels'}"}
                flags = [str(args.flushes), str(args.touch_buffer), str(repeat)]
                child = [sys.executable, __file__, "--touch-child", path, *flags]
                out = subprocess.run(child, env=env, capture_output=True, text=True, check=True)
                runs[name].append(json.loads(out.stdout.splitlines()[-1]))
    mean = {
        name: {k: round(float(np.mean([r[k] for r in got])), 4) for k in got[0]}
        for name, got in runs.items()
    }
    return {"engrams": n, "build_s": round(build_s, 1), "mean": mean, "runs": runs}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--turn-words", type=int, default=120)
    parser.add_argument(
        "--encode-queries",
        action="store_true",
        help="encode each query with the embedded MiniLM inside the timed recall (end to end)",
    )
    parser.add_argument("--touch-cost", action="store_true", help="time count flushes only")
    parser.add_argument("--baseline", help="a checkout (of main) to compare, for --touch-cost")
    parser.add_argument("--flushes", type=int, default=8, help="per child, for --touch-cost")
    parser.add_argument("--touch-buffer", type=int, default=256, help="recalls per flush")
    parser.add_argument("--repeats", type=int, default=3, help="children per code")
    parser.add_argument("--touch-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.touch_child:
        path, *numbers = args.touch_child
        print(json.dumps(touch_child(path, *map(int, numbers))))
        return 0
    rng = np.random.default_rng(0)
    if args.touch_cost:
        costs = [touch_cost(n, args, rng) for n in args.sizes]
        print(json.dumps({"touch_cost": costs, "machine": _machine()}))
        return 0
    paying = default_encoder() if args.encode_queries else None
    results = [measure(n, args.queries, args.turn_words, rng, paying) for n in args.sizes]
    for r in results:
        for name in ("recall", "recall_dense_floor_full_scan"):
            wall, cpu = r[name]["wall_ms"], r[name]["cpu_ms"]
            print(
                f"{r['engrams']:>9} engrams {name:<30} wall p50 {wall['p50']:.2f} "
                f"p95 {wall['p95']:.2f} ms, cpu p50 {cpu['p50']:.2f} p95 {cpu['p95']:.2f} ms"
            )
    print(json.dumps({"store_scale": results, "machine": _machine()}))
    return 0


def _machine() -> dict:
    return {**machine(), "load_average": os.getloadavg()}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
