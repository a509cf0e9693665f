"""What reading short turns by sentence (store.sentences) costs, measured against the same store
without it in the same run: recall thread CPU per question and ingestion CPU per turn on a
LoCoMo-format file (MiniLM, every question of every conversation, the two settings
interleaved), and the index-load CPU it adds at `--rows` engrams (the file's turns repeated,
random vectors: sentence vectors are derived from the text when the index loads).

    OMP_NUM_THREADS=1 python benchmarks/sentence_cost.py benchmarks/data/locomo_dev_a.json \
        --rows 100000

The last line printed is one JSON object (with the machine it ran on); CPU times are thread
time (`time.thread_time`; ingestion and the sentence read at load: the process's, every
thread, as the encoder and the tokenizer's batch call run threads of their own), which other
processes on a shared machine do not inflate."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engram_agents.memory import EngramMemory
from engram_agents.store.backends.sqlite import SQLiteBackend
from engram_agents.store.config import StoreConfig
from engram_agents.store.encoders import default_encoder, encode_checked
from engram_agents.store.index import ScopeIndex
from engram_agents.store.records import Engram, Scope
from engram_agents.store.store import EpisodicStore
from engram_agents_demo.bench.locomo import conversations
from engram_agents_demo.bench.recall import machine, remember_turns

WEIGHTS = (0.0, 0.35)


def recall_and_ingest(source: str, encoder, workdir: Path) -> dict:
    convs = conversations(source)
    memories = {
        w: EngramMemory(
            workdir / f"m{w}.db", encoder=encoder, config=StoreConfig(sentence_weight=w)
        )
        for w in WEIGHTS
    }
    ingest = dict.fromkeys(WEIGHTS, 0.0)
    recall: dict[float, list[float]] = {w: [] for w in WEIGHTS}
    turns = 0
    for n, conv in enumerate(convs):
        turns += len(conv.turns)
        nows = {}
        for w, memory in memories.items():
            start = time.process_time()  # every thread's: the encoder may run in its own
            nows[w] = remember_turns(memory, conv.turns, f"c{n}")
            ingest[w] += time.process_time() - start
        qvecs = encode_checked(encoder, [q.text for q in conv.questions])
        for question, qvec in zip(conv.questions, qvecs, strict=True):
            for w, memory in memories.items():  # interleaved: load changes hit both
                start = time.thread_time()
                memory.store.recall(f"c{n}", question.text, 25, None, nows[w], qvec)
                recall[w].append(time.thread_time() - start)
    for memory in memories.values():
        memory.close()
    return {
        "turns": turns,
        "questions": len(recall[0.0]),
        **{
            f"sentence_weight={w}": {
                "recall_cpu_ms_p50": round(1000 * statistics.median(recall[w]), 3),
                "recall_cpu_ms_mean": round(1000 * statistics.fmean(recall[w]), 3),
                "recall_cpu_ms_p95": round(1000 * float(np.percentile(recall[w], 95)), 3),
                "ingest_cpu_ms_per_turn": round(1000 * ingest[w] / turns, 3),
            }
            for w in WEIGHTS
        },
    }


def index_load(source: str, encoder, rows: int, workdir: Path) -> dict:
    texts = [t["text"] for conv in conversations(source) for t in conv.turns]
    store = EpisodicStore(SQLiteBackend(workdir / "load.db"), encoder)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(rows, encoder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    built = [
        store.codec.to_row(Engram(scope=Scope(user_id="u"), text=texts[i % len(texts)]), v)
        for i, v in enumerate(vectors)
    ]
    start = time.thread_time()
    index = ScopeIndex(encoder.dim)
    index.upsert(built)
    upsert = time.thread_time() - start
    start, thread = time.process_time(), time.thread_time()
    store._read_sentences(index, built)
    read, thread = time.process_time() - start, time.thread_time() - thread
    return {
        "rows": rows,
        "sentences": len(index.sentences),
        "index_upsert_cpu_s": round(upsert, 3),
        "sentence_read_cpu_s": round(read, 3),
        "sentence_read_thread_cpu_s": round(thread, 3),
        "sentence_read_us_per_row": round(1e6 * read / rows, 2),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="LoCoMo-format JSON file")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    encoder = default_encoder()
    with tempfile.TemporaryDirectory() as tmp:
        out = {
            "source": args.source,
            "recall": recall_and_ingest(args.source, encoder, Path(tmp)),
            "index_load": index_load(args.source, encoder, args.rows, Path(tmp)),
            "machine": machine(),
        }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
