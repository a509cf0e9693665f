"""What keeping sentence vectors (store.sentences) in float16 saves and costs at `--rows` engrams
for one user: the bytes of the index's arrays (its own vectors, the passages', the sentences'),
and recall thread CPU with the sentences in float16 (as stored) and in float32 (read again from
the same rows: the baseline, as main keeps them), the two swapped in and out of the same index
query by query, so load changes on a shared machine hit both; also how many recalls return a
different top k. The file's turns are repeated with random unit vectors as their own (the
sentences are derived from the text, as at any load); the queries are its questions, encoded by
MiniLM.

    OMP_NUM_THREADS=1 python benchmarks/sentence_memory.py benchmarks/data/locomo_dev_a.json \
        --rows 100000

The last line printed is one JSON object (with the machine it ran on)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from engram_agents.store.backends.sqlite import SQLiteBackend
from engram_agents.store.encoders import default_encoder, encode_checked
from engram_agents.store.records import Engram, Scope
from engram_agents.store.sentences import SentenceRows
from engram_agents.store.sketch import extract_sketch
from engram_agents.store.store import EpisodicStore
from engram_agents_demo.bench.locomo import conversations
from engram_agents_demo.bench.recall import machine

MB = 1e6


def build(store: EpisodicStore, texts: list[str], rows: int, chunk: int = 20_000) -> None:
    rng = np.random.default_rng(0)
    for lo in range(0, rows, chunk):
        size = min(chunk, rows - lo)
        vectors = rng.standard_normal((size, store.encoder.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        built = []
        for i, vector in enumerate(vectors):
            engram = Engram(scope=Scope(user_id="u"), text=texts[(lo + i) % len(texts)])
            engram.sketch = extract_sketch(engram.text)
            built.append(store.codec.to_row(engram, vector))
        store.backend.write(built, [], [], {"u"})


def sizes(arrays: dict[str, tuple[np.ndarray, int]]) -> dict[str, dict]:
    """Each array's dtype, MB of its rows in use and MB allocated (capacity grows by doubling)."""
    return {
        name: {
            "dtype": str(arr.dtype),
            "rows": used,
            "used_mb": round(arr[:used].nbytes / MB, 1),
            "allocated_mb": round(arr.nbytes / MB, 1),
        }
        for name, (arr, used) in arrays.items()
    }


def pct(values: list[float]) -> dict[str, float]:
    ms = 1000 * np.asarray(values)
    return {
        "p50": round(float(np.percentile(ms, 50)), 3),
        "p95": round(float(np.percentile(ms, 95)), 3),
        "mean": round(float(statistics.fmean(ms)), 3),
    }


def timed(method: Callable, spent: list[float]) -> Callable:
    def run(*args, **kwargs):
        start = time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent.append(time.thread_time() - start)

    return run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="LoCoMo-format JSON file")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args(argv)
    encoder = default_encoder()
    convs = conversations(args.source)
    texts = [t["text"] for conv in convs for t in conv.turns]
    questions = [q.text for conv in convs for q in conv.questions]
    questions = [questions[i % len(questions)] for i in range(args.queries)]
    qvecs = encode_checked(encoder, questions)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = EpisodicStore(SQLiteBackend(Path(tmp) / "m.db"), encoder)
        build(store, texts, args.rows)
        start = time.process_time()
        index = store._index("u")
        load_s = time.process_time() - start
        kept = {"float16": index.sentences}
        index.sentences = SentenceRows(encoder.dim, dtype=np.float32)
        store._read_sentences(index, list(store.backend.scan("u")))
        kept["float32"] = index.sentences
        memory = sizes(
            {
                "index vectors": (index.vectors, index._size),
                "passages": (index.passages.vectors, index.passages.used),
                **{f"sentences {k}": (v.vectors, v.used) for k, v in kept.items()},
            }
        )
        cpu: dict[str, list[float]] = {k: [] for k in kept}
        lift: dict[str, list[float]] = {k: [] for k in kept}
        tops: dict[str, list[list[str]]] = {k: [] for k in kept}
        for name, rows in kept.items():
            rows.lift = timed(rows.lift, lift[name])
        for n, (text, qvec) in enumerate(zip(questions, qvecs, strict=True)):
            order = list(kept) if n % 2 else list(kept)[::-1]  # neither always goes first
            for name in order:  # interleaved: load changes hit both
                index.sentences = kept[name]
                start = time.thread_time()
                hits = store.recall("u", text, 25, None, now, qvec)
                cpu[name].append(time.thread_time() - start)
                tops[name].append([h.engram.id for h in hits])
        assert store._index("u") is index  # recalls did not reload it (with float16 sentences)
        store.backend.close()
    moved = sum(a != b for a, b in zip(tops["float16"], tops["float32"], strict=True))
    print(
        json.dumps(
            {
                "source": args.source,
                "rows": args.rows,
                "sentences": kept["float16"].used,
                "index_load_cpu_s": round(load_s, 2),
                "memory": memory,
                "recall_cpu_ms": {k: pct(v) for k, v in cpu.items()},
                "sentence_lift_cpu_ms": {k: pct(v) for k, v in lift.items()},
                "queries": len(questions),
                "top25_lists_differing": moved,
                "machine": machine(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
