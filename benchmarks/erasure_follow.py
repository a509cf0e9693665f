"""What following a server's erasures costs a client: a recall through `EngramMemory.remote`
with no model attached (the baseline) and with one attached (each call first reads the user's
erasure feed, `GET /v1/users/{user}/erasures`), and that feed read alone, in the same run,
against an `engram-agents serve` process on loopback (hashing encoder).

    python benchmarks/erasure_follow.py --engrams 1000 --calls 50

Prints one JSON object: median wall and client-CPU milliseconds per call, and the user's audit
entries (the feed reads them all: its cost grows with the user's history, and with
`--other-audit` entries of other users made first, shows what others' history costs). The model is a
stand-in holding no facts: with no erasure pending, the check never touches the model, so
this is the whole cost of a call; forgetting itself costs what `EngramLM.forget_many` costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service_load import _start_server  # this folder is on sys.path when run as a script

from engram_agents import EngramMemory
from engram_agents.store.encoders import HashingEncoder


class NoFacts:
    """A model that holds no facts (see the module docstring)."""

    def facts(self, user_id: str) -> list[Any]:
        return []


def timed(call: Callable[[], Any], n: int) -> dict[str, float]:
    """Median wall and this thread's CPU milliseconds per call (the machine may be shared:
    the CPU time is the number other jobs move least)."""
    wall, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.thread_time()
        call()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    return {"wall_ms": statistics.median(wall), "client_cpu_ms": statistics.median(cpu)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engrams", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument(
        "--other-audit", type=int, default=20000, help="audit entries of other users, made first"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with EngramMemory(Path(tmp) / "server.db", encoder=HashingEncoder()) as memory:
            for n in range(args.other_audit):  # each list is one audit entry of that user
                memory.list(f"other{n % 100}")
        proc, url = _start_server(Path(tmp) / "server.db", "hashing", None, 1)
        try:
            with EngramMemory.remote(url) as plain, EngramMemory.remote(url) as following:
                items = [
                    f"Note {n}: the meeting with client {n} is on day {n % 28}."
                    for n in range(args.engrams)
                ]
                stored = plain.remember_many(items, "u")
                plain.delete([e.id for e in stored[:5]], "u")
                following.attach_model(NoFacts(), {"u": "u"})

                def recall(memory: EngramMemory) -> Callable[[], Any]:
                    return lambda: memory.recall("when is the meeting with client 7", "u", 5)

                out = {
                    "machine": f"{platform.machine()} {os.cpu_count()} cores (shared)",
                    "engrams": args.engrams,
                    "other_users_audit_entries": args.other_audit,
                    "calls": args.calls,
                    "recall_plain": timed(recall(plain), args.calls),
                    "recall_following": timed(recall(following), args.calls),
                    "feed_read": timed(lambda: plain.erasures("u", 0), args.calls),
                    "user_audit_entries": plain.erasures("u").cursor,
                }
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    out["overhead_wall_ms"] = out["recall_following"]["wall_ms"] - out["recall_plain"]["wall_ms"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
