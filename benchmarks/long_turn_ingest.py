"""Ingestion of long-turn chats with and without passages (store.passages), same run, same
encoder: turns/s end to end (wall and CPU time of the process, every thread) for each
`passage_tokens`, `passage_vectors`, `long_turn_tokens` and `sentence_weight` (short turns
read by sentence, store.sentences) setting, with how many turns overflowed the encoder's window
and how many passages were encoded. Each chat is one `remember_many` call, as in `bench beam`.

    OMP_NUM_THREADS=1 python benchmarks/long_turn_ingest.py benchmarks/data/beam_long \
        benchmarks/data/beam_dev --passage-tokens 0 128 --passage-vectors model static \
        --long-turn-tokens 0 64 --sentence-weight 0 0.35

The last line printed is one JSON object (with the machine it ran on). On a shared machine read
the CPU-time columns: wall time depends on what else runs."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.encoders import default_encoder
from engram_agents_demo.bench.beam import conversations
from engram_agents_demo.bench.recall import machine, remember_turns


def ingest(chats: list, setting: dict, encoder) -> dict:
    config = StoreConfig(**setting)
    turns = sum(len(c.turns) for c in chats)
    with tempfile.TemporaryDirectory() as tmp:
        memory = EngramMemory(Path(tmp) / "m.db", encoder=encoder, config=config)
        wall, cpu = time.perf_counter(), time.process_time()
        for n, chat in enumerate(chats):
            remember_turns(memory, chat.turns, f"user{n}")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        counts = [
            int(memory.store._index(f"user{n}").passages.count.sum()) for n in range(len(chats))
        ]
        long = [
            int((memory.store._index(f"user{n}").passages.count > 0).sum())
            for n in range(len(chats))
        ]
        memory.close()
    return {
        **setting,
        "turns": turns,
        "long_turns": sum(long),
        "passages": sum(counts),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "turns_per_s": round(turns / wall, 1),
        "turns_per_cpu_s": round(turns / cpu, 1),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", help="BEAM-format folders")
    parser.add_argument("--passage-tokens", type=int, nargs="+", default=[0, 128, 254])
    parser.add_argument("--passage-vectors", nargs="+", default=["model"])
    parser.add_argument("--long-turn-tokens", type=int, nargs="+", default=[0])
    parser.add_argument("--sentence-weight", type=float, nargs="+", default=[0.35])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    chats = [c for source in args.sources for c in conversations(source)]
    encoder = default_encoder()
    encoder.encode(["warm up the encoder"])
    settings = [  # without passages, what reads them and how far the turn reads: the window
        {
            "passage_tokens": tokens,
            "passage_vectors": vectors,
            "long_turn_tokens": long,
            "sentence_weight": weight,
        }
        for weight in args.sentence_weight
        for tokens in args.passage_tokens
        for vectors in (args.passage_vectors if tokens else args.passage_vectors[:1])
        for long in (args.long_turn_tokens if tokens else [0])
    ]
    runs = [
        ingest(chats, setting, encoder)
        for _ in range(args.repeat)
        for setting in settings  # interleaved, so load changes hit every setting
    ]
    for run in runs:
        print(run, file=sys.stderr)
    best = {}
    for run in runs:  # the fastest of the repeats per setting: the least disturbed one
        setting = tuple(run[name] for name in settings[0])
        if setting not in best or run["cpu_s"] < best[setting]["cpu_s"]:
            best[setting] = run
    print(json.dumps({"runs": list(best.values()), "all": runs, "machine": machine()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
