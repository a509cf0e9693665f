"""What keeping the index's sentence and passage vectors (store.sentences, store.passages) in
float16 saves and costs at `--rows` engrams for one user: the bytes of the index's arrays (its
own vectors, the passages', the sentences'), and recall thread CPU with both in float16 (as the
index keeps them past `ragged.HALF_FROM` rows) and in float32 (as it keeps them below), both
read again from the same rows, swapped in and out of the same index query by query, each going
first every other query, so load changes on a shared machine hit both; also how many recalls
return a different top 25.

The file's turns are repeated with random unit vectors as their own (sentences are derived from
the text, as at any load); with `--long-every N` every Nth row is a long turn with
`--passages-per-long` random passages (stored, as the write path stores them). The queries are
the file's questions, encoded by MiniLM.

    OMP_NUM_THREADS=1 python benchmarks/half_vectors.py benchmarks/data/locomo_dev_a.json \
        --rows 100000 [--long-every 3]

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
from engram_agents.store.index import ScopeIndex
from engram_agents.store.passages import Passages
from engram_agents.store.ragged import RaggedRows
from engram_agents.store.records import Engram, Scope
from engram_agents.store.sentences import SentenceRows
from engram_agents.store.sketch import extract_sketch
from engram_agents.store.store import EpisodicStore
from engram_agents_demo.bench.locomo import conversations
from engram_agents_demo.bench.recall import machine

MB = 1e6
DIM = 384  # MiniLM's
CHUNK = 20_000  # rows written at once


def build(
    store: EpisodicStore, texts: list[str], rows: int, long_every: int, per_long: int
) -> None:
    rng = np.random.default_rng(0)
    for lo in range(0, rows, CHUNK):
        size = min(CHUNK, rows - lo)
        built = []
        for i, vector in enumerate(unit(rng, size)):
            engram = Engram(scope=Scope(user_id="u"), text=texts[(lo + i) % len(texts)])
            engram.sketch = extract_sketch(engram.text)
            passages = None
            if long_every and (lo + i) % long_every == 0:
                spans = np.arange(2 * per_long, dtype=np.int64).reshape(per_long, 2)
                passages = Passages(spans, unit(rng, per_long))
            built.append(store.codec.to_row(engram, vector, passages))
        store.backend.write(built, [], [], {"u"})


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def read_as(
    store: EpisodicStore, index: ScopeIndex, dtype: type
) -> tuple[SentenceRows, RaggedRows]:
    """The index's sentences and passages read again from its rows, held in `dtype` at any size
    (the index itself turns them float16 past `ragged.HALF_FROM` rows)."""
    rows = sorted(store.backend.scan("u"), key=lambda r: index.pos[r.id])
    index.sentences = SentenceRows(DIM, dtype=dtype, half_from=None)
    index.passages = RaggedRows(DIM, spans=True, dtype=dtype)
    index._add_passages(0, [r.passages for r in rows])
    store._read_sentences(index, rows)
    return index.sentences, index.passages


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


def timed(method: Callable, spent: Callable[[], list[float]]) -> Callable:
    """`method`, its thread CPU time appended to the list `spent()` gives at the time."""

    def run(*args, **kwargs):
        start = time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent().append(time.thread_time() - start)

    return run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="LoCoMo-format JSON file")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--long-every", type=int, default=0)
    parser.add_argument("--passages-per-long", type=int, default=3)
    args = parser.parse_args(argv)
    encoder = default_encoder()
    assert encoder.dim == DIM
    convs = conversations(args.source)
    texts = [t["text"] for conv in convs for t in conv.turns]
    questions = [q.text for conv in convs for q in conv.questions]
    questions = [questions[i % len(questions)] for i in range(args.queries)]
    qvecs = encode_checked(encoder, questions)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = EpisodicStore(SQLiteBackend(Path(tmp) / "m.db"), encoder)
        build(store, texts, args.rows, args.long_every, args.passages_per_long)
        start = time.process_time()
        index = store._index("u")
        load_s = time.process_time() - start
        loaded = str(index.sentences.vectors.dtype), str(index.passages.vectors.dtype)
        kept = {"float16": read_as(store, index, np.float16)}
        kept["float32"] = read_as(store, index, np.float32)
        memory = sizes(
            {
                "index vectors": (index.vectors, index._size),
                **{
                    f"{part} {dtype}": (rows.vectors, rows.used)
                    for dtype, pair in kept.items()
                    for part, rows in zip(("sentences", "passages"), pair, strict=True)
                },
            }
        )
        cpu: dict[str, list[float]] = {k: [] for k in kept}
        lift: dict[str, list[float]] = {k: [] for k in kept}
        scan: dict[str, list[float]] = {k: [] for k in kept}
        tops: dict[str, list[list[str]]] = {k: [] for k in kept}
        current = ["float16"]
        for sentences, _ in kept.values():
            sentences.lift = timed(sentences.lift, lambda: lift[current[0]])
        index.with_passages = timed(index.with_passages, lambda: scan[current[0]])
        for n, (text, qvec) in enumerate(zip(questions, qvecs, strict=True)):
            order = list(kept) if n % 2 else list(kept)[::-1]  # neither always goes first
            for name in order:  # interleaved: load changes hit both
                current[0] = name
                index.sentences, index.passages = kept[name]
                start = time.thread_time()
                hits = store.recall("u", text, 25, None, now, qvec)
                cpu[name].append(time.thread_time() - start)
                tops[name].append([h.engram.id for h in hits])
        assert store._index("u") is index  # recalls did not reload it (with float16 sentences)
        store.backend.close()
    pairs = list(zip(tops["float16"], tops["float32"], strict=True))
    moved = sum(a != b for a, b in pairs)
    other = sum(set(a) != set(b) for a, b in pairs)
    first = sum(a[:1] != b[:1] for a, b in pairs)
    print(
        json.dumps(
            {
                "source": args.source,
                "rows": args.rows,
                "long_every": args.long_every,
                "index_load_cpu_s": round(load_s, 2),
                "loaded_as": dict(zip(("sentences", "passages"), loaded, strict=True)),
                "memory": memory,
                "recall_cpu_ms": {k: pct(v) for k, v in cpu.items()},
                "sentence_lift_cpu_ms": {k: pct(v) for k, v in lift.items()},
                "passage_scoring_cpu_ms": {k: pct(v) for k, v in scan.items()},
                "queries": len(questions),
                "top25_lists_differing": moved,
                "top25_sets_differing": other,
                "top1_differing": first,
                "machine": machine(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
