"""What a poll of the erasure feed costs on the Chroma backend as the user's audit log grows: a
caught-up client's poll (from the cursor the previous poll returned) with nothing new, and with
one new entry of the user each time (the cursor moves on), beside the baseline, the same polls
as a handle without a bookmark made them before entries carried their user ordinal (list the
user's entry ids, then read the entries past the cursor's), in the same run, on local Chroma
(PersistentClient).

    python benchmarks/chroma_feed_poll.py --entries 1000 10000 --polls 30

Prints one JSON object: per log size, median wall, process-CPU and thread-CPU milliseconds per
poll (the process's is the one to read: Chroma does its work on threads of its own).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engram_agents import EngramMemory
from engram_agents.store.encoders import HashingEncoder
from engram_agents.store.rows import AuditEvent
from engram_agents_demo.bench.recall import machine

BATCH = 1000  # entries per append (under Chroma's largest batch)
CLOCKS = {
    "wall_ms": time.perf_counter,
    "cpu_ms": time.process_time,
    "thread_cpu_ms": time.thread_time,
}


def timed(call: Callable[[], Any], n: int, before: Callable[[], Any] = list) -> dict[str, float]:
    """Median wall, process CPU and thread CPU milliseconds per call, `before` each one untimed
    (the machine may be shared: the CPU times are the numbers other jobs move least)."""
    took: dict[str, list[float]] = {name: [] for name in CLOCKS}
    for _ in range(n):
        before()
        start = {name: clock() for name, clock in CLOCKS.items()}
        call()
        for name, clock in CLOCKS.items():
            took[name].append((clock() - start[name]) * 1000)
    return {name: statistics.median(times) for name, times in took.items()}


def grow(backend: Any, user_id: str, entries: int) -> None:
    """Append the user's recalls and as many of another user's, as the log holds them."""
    for start in range(0, entries, BATCH):
        for who in (user_id, "someone else"):
            n = min(BATCH, entries - start)
            backend.append_audit(
                [AuditEvent(who, "recall", [f"e{start + i}"], ts=time.time()) for i in range(n)]
            )


def listing_poll(audit: Any, user_id: str, after: int) -> list[dict[str, Any]]:
    """The poll before ordinals, without a bookmark: every id of the user's entries, then those
    past the cursor."""
    mine = {"user_id": user_id}
    ids = sorted(audit.get(where=mine, include=[])["ids"])
    where = {"$and": [mine, {"seq": {"$gt": int(ids[after - 1])}}]}
    return audit.get(where=where, include=["metadatas"])["metadatas"]


def measure(memory: EngramMemory, backend: Any, polls: int) -> dict[str, Any]:
    """The four timings at the log's size now (the advancing polls add `2 * polls` entries)."""
    cursor = memory.erasures("u").cursor
    at = {"feed": cursor, "baseline": cursor}

    def idle() -> None:
        assert memory.erasures("u", after=cursor).erasures == []

    def idle_baseline() -> None:
        assert listing_poll(backend.audit, "u", cursor) == []

    def advancing() -> None:
        at["feed"] = memory.erasures("u", after=at["feed"]).cursor

    def advancing_baseline() -> None:
        at["baseline"] += len(listing_poll(backend.audit, "u", at["baseline"]))

    def one_more() -> None:
        grow(backend, "u", 1)

    return {
        "user_audit_entries": cursor,
        "log_entries": backend.audit.count(),
        "idle_poll": timed(idle, polls),
        "idle_poll_baseline": timed(idle_baseline, polls),
        "advancing_poll": timed(advancing, polls, one_more),
        "advancing_poll_baseline": timed(advancing_baseline, polls, one_more),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--polls", type=int, default=30)
    args = parser.parse_args()
    out: dict[str, Any] = {
        "machine": machine(),
        "polls": args.polls,
        "sizes": [],
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        EngramMemory.chroma(Path(tmp) / "chroma", encoder=HashingEncoder()) as memory,
    ):
        backend = memory.store.backend
        backend = getattr(backend, "inner", backend)  # the recall buffer, if any, wraps it
        made = 0
        for size in sorted(args.entries):
            grow(backend, "u", max(size - made, 0))
            out["sizes"].append(measure(memory, backend, args.polls))
            made = out["sizes"][-1]["user_audit_entries"] + 2 * args.polls
    print(json.dumps(out))


if __name__ == "__main__":
    main()
