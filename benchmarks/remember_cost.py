"""CPU of one remember in-process, and where it goes: thread CPU per `EngramMemory.remember` of
the load benchmark's short facts into a store shaped like its own (8 users, `--seed-per-user`
engrams each), beside the encode of the same texts alone (the floor, measured in the same run).
`--recalls-between 4` puts four recalls before each remember (the service's 80/20 mix), so the
write also carries their waiting access counts and audit entries; `--profile N` adds cProfile's
top N functions of the timed remembers. Prints one JSON object.

    python benchmarks/remember_cost.py --remembers 500
    python benchmarks/remember_cost.py --encoder hashing --recalls-between 4 --profile 25

Thread CPU, not wall time, is the number: on a shared machine it moves least with other jobs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from service_load import USERS, _seed, fact, question  # this folder is on sys.path as a script

from engram_agents.memory import EngramMemory
from engram_agents.store.encoders import HashingEncoder
from engram_agents_demo.bench.recall import machine


def _cpu_ms(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {
        "mean": round(float(ms.mean()), 3),
        "p50": round(float(np.percentile(ms, 50)), 3),
        "p95": round(float(np.percentile(ms, 95)), 3),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    encoder = HashingEncoder() if args.encoder == "hashing" else args.encoder
    memory = EngramMemory(Path(tempfile.mkdtemp(prefix="remember-cost-")) / "m.db", encoder=encoder)
    _seed(lambda user, texts: memory.remember_many(texts, user), args.seed_per_user)
    rng = random.Random(1)
    facts = [(rng.choice(USERS), fact(rng, rng.randrange(10**9))) for _ in range(args.remembers)]
    for user, text in facts[: args.warmup]:
        memory.remember(text, user)
    encode: list[float] = []
    for _, text in facts:
        start = time.thread_time()
        memory.store.encode_turns([text])
        encode.append(time.thread_time() - start)
    cpu: list[float] = []
    wall: list[float] = []
    profile = cProfile.Profile() if args.profile else None
    for user, text in facts:
        for _ in range(args.recalls_between):
            memory.recall(question(rng), rng.choice(USERS), k=5)
        start, started = time.thread_time(), time.perf_counter()
        if profile:
            profile.enable()
        memory.remember(text, user)
        if profile:
            profile.disable()
        cpu.append(time.thread_time() - start)
        wall.append(time.perf_counter() - started)
    memory.close()
    remember, alone = _cpu_ms(cpu), _cpu_ms(encode)
    out: dict[str, Any] = {
        "remember_cpu_ms": remember,
        "encode_alone_cpu_ms": alone,
        "beyond_encode_cpu_ms": round(remember["mean"] - alone["mean"], 3),
        "remember_wall_ms": _cpu_ms(wall),
    }
    if profile:
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(args.profile)
        out["profile"] = text.getvalue().splitlines()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--remembers", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50, help="remembers before the timed ones")
    parser.add_argument("--seed-per-user", type=int, default=250)
    parser.add_argument("--encoder", help="'hashing' to leave the encoder out (default: MiniLM)")
    parser.add_argument("--recalls-between", type=int, default=0)
    parser.add_argument("--profile", type=int, default=0, help="cProfile's top N functions")
    args = parser.parse_args(argv)
    result = measure(args)
    settings = {k: getattr(args, k) for k in ("remembers", "seed_per_user", "recalls_between")}
    print(
        json.dumps(
            result
            | settings
            | {"encoder": args.encoder or "minilm"}
            | {"machine": machine() | {"load_avg_1m": os.getloadavg()[0]}}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
