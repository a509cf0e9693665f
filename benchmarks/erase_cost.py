"""What a delete that removes every copy of the text costs: one delete in a user's store of N
engrams, with the WAL checkpoint it runs after committing and without it (the baseline, same run).

    python benchmarks/erase_cost.py --engrams 2000 --deletes 20

Prints one JSON object: median milliseconds per delete (wall and CPU), with and without the
checkpoint. The first delete of a process reads the user's engrams once to learn which hold
copies of which (`store.copies`); the rest read only the deleted engram and its copies.
"""

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from engram_agents import EngramMemory
from engram_agents.store.encoders import HashingEncoder


def _delete_ms(memory: EngramMemory, ids: list[str]) -> tuple[float, float, float]:
    """Median wall and CPU (this thread's) milliseconds per delete (on a shared machine the
    wall time counts the other processes' turns too), and the first delete's CPU ms."""
    wall, cpu = [], []
    for engram_id in ids:
        start, start_cpu = time.perf_counter(), time.thread_time()
        memory.delete(engram_id, "u")
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu), cpu[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engrams", type=int, default=2000)
    parser.add_argument("--deletes", type=int, default=20)
    args = parser.parse_args()
    out = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip()}
    for mode in ("checkpoint", "no_checkpoint"):
        with tempfile.TemporaryDirectory() as folder:
            memory = EngramMemory(Path(folder) / "m.db", encoder=HashingEncoder(dim=384))
            texts = [
                f"note {i}: the item {i * 7919 % 10007} is on shelf {i}"
                for i in range(args.engrams)
            ]
            engrams = memory.remember_many(texts, "u")
            if mode == "no_checkpoint":
                memory.store.backend.checkpoint = lambda: None  # type: ignore[method-assign]
            ids = [e.id for e in engrams[:: max(1, len(engrams) // args.deletes)]][: args.deletes]
            wall, cpu, first = _delete_ms(memory, ids)
            out[f"delete_ms_{mode}"] = round(wall, 2)
            out[f"delete_cpu_ms_{mode}"] = round(cpu, 2)
            out[f"first_delete_cpu_ms_{mode}"] = round(first, 2)
            memory.close()
    out["engrams"] = args.engrams
    print(json.dumps(out))


if __name__ == "__main__":
    main()
