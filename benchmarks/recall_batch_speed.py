"""CPU time per recall of ranking a batch of recalls together (`recall_many`, what the server
does with the queries of one encode batch) against ranking the same recalls one by one, same
run, same store, same pre-encoded queries, rounds interleaved. The shape is the load
benchmark's (`service_load.py`): users user0..user7 with 250 engrams each, batches of 25
recalls (k=5) over random users. Encoding is left out: only the ranking is timed.

    OMP_NUM_THREADS=1 python benchmarks/recall_batch_speed.py --rounds 7

Prints one JSON object with the machine. Times are the thread's CPU time (`time.thread_time`),
the median over rounds; on a shared machine wall time is not comparable, CPU time mostly is."""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engram_agents.memory import EngramMemory
from engram_agents.store.encoders import HashingEncoder, encode_checked
from engram_agents.store.ranker import RecallItem
from engram_agents_demo.bench.recall import machine

sys.path.insert(0, str(Path(__file__).parent))
from service_load import USERS, fact, question


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--seed-per-user", type=int, default=250)
    parser.add_argument("--encoder", help="'hashing' to leave the model out (default: MiniLM)")
    args = parser.parse_args(argv)

    path = Path(tempfile.mkdtemp(prefix="recall-batch-")) / "m.db"
    memory = EngramMemory(path, encoder=HashingEncoder() if args.encoder == "hashing" else None)
    rng = random.Random(0)
    for user in USERS:
        memory.remember_many([fact(rng, n) for n in range(args.seed_per_user)], user)
    batches = []
    for _ in range(args.batches):
        asked = [(rng.choice(USERS), question(rng)) for _ in range(args.batch_size)]
        vectors = encode_checked(memory.store.encoder, [q for _, q in asked])
        batches.append(
            [RecallItem(u, q, 5, qvec=v) for (u, q), v in zip(asked, vectors, strict=True)]
        )
    recalls = args.batches * args.batch_size
    store = memory.store

    def one_by_one() -> None:
        for batch in batches:
            for item in batch:
                store.recall_item(item)

    def batched() -> None:
        for batch in batches:
            store.recall_many(batch)

    def cpu_ms(run: Callable[[], None]) -> float:
        start = time.thread_time()
        run()
        return (time.thread_time() - start) / recalls * 1e3

    one_by_one(), batched()  # warm: indexes built, settings read
    gc.collect()
    gc.freeze()  # as `serve` does: full collections never walk the startup objects
    times: dict[str, list[float]] = {"one_by_one": [], "batched": []}
    for _ in range(args.rounds):
        times["one_by_one"].append(cpu_ms(one_by_one))
        times["batched"].append(cpu_ms(batched))
    base, new = (statistics.median(times[name]) for name in ("one_by_one", "batched"))
    memory.close()
    print(
        json.dumps(
            {
                "recall_batch_speed": {
                    "one_by_one_cpu_ms_per_recall": round(base, 4),
                    "batched_cpu_ms_per_recall": round(new, 4),
                    "saved_fraction": round(1 - new / base, 3),
                    "rounds_cpu_ms": {k: [round(t, 4) for t in v] for k, v in times.items()},
                },
                "batch_size": args.batch_size,
                "batches": args.batches,
                "users": len(USERS),
                "seed_per_user": args.seed_per_user,
                "encoder": args.encoder or "minilm",
                "machine": machine() | {"load_avg_1m": os.getloadavg()[0]},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
