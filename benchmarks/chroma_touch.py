"""What writing a flushed recall's access counts costs on the Chroma backend: the counts of `--hits`
engrams added in the side collection (`ChromaBackend.touch` with no audit entry), beside the
baseline, the same counts written as the code before the side collection wrote them (each hit's
row metadata updated in place), in the same run, on local Chroma (PersistentClient), with rows
of long-turn-like text (a payload of a few kilobytes each).

    python benchmarks/chroma_touch.py --engrams 2000 --hits 10 --touches 40

Prints one JSON object: median wall, process-CPU and thread-CPU milliseconds per touch.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from chroma_feed_poll import timed  # this folder is on sys.path when run as a script

from engram_agents import EngramMemory
from engram_agents.store.encoders import HashingEncoder
from engram_agents_demo.bench.recall import machine

TURN = "the garden shed needs a new coat of paint before the first frost of winter, said Ana. "


def row_update_touch(backend: Any, accesses: dict[str, tuple[int, float]]) -> None:
    """The baseline: the touch before the side collection, counts written into the rows."""
    got = backend.rows.get(ids=list(accesses), include=["metadatas"])
    metas = [
        {"activations": int(m["activations"]) + accesses[i][0], "last_access_ts": accesses[i][1]}
        for i, m in zip(got["ids"], got["metadatas"], strict=True)
    ]
    backend.rows.update(ids=got["ids"], metadatas=metas)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engrams", type=int, default=2000)
    parser.add_argument("--hits", type=int, default=10)
    parser.add_argument("--touches", type=int, default=40)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        EngramMemory.chroma(Path(tmp) / "chroma", encoder=HashingEncoder()) as memory,
    ):
        texts = [f"note {n}: " + TURN * 30 for n in range(args.engrams)]
        ids = [e.id for e in memory.remember_many(texts, "u")]
        backend = memory.store.backend
        backend = getattr(backend, "inner", backend)  # the recall buffer, if any, wraps it
        turn = {"n": 0}

        def hits() -> dict[str, tuple[int, float]]:
            start = (turn["n"] * args.hits) % (len(ids) - args.hits)
            turn["n"] += 1
            return {i: (1, time.time()) for i in ids[start : start + args.hits]}

        out = {
            "machine": machine(),
            "engrams": args.engrams,
            "hits": args.hits,
            "payload_bytes": len(texts[0]),
            "touch": timed(lambda: backend.touch(hits(), []), args.touches),
            "touch_baseline": timed(lambda: row_update_touch(backend, hits()), args.touches),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
