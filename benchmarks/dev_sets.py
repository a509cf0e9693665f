"""Evidence recall on every development set at once: `engram-agents bench locomo|beam` on each,
the store against dense retrieval with the same encoder (and any other baseline or store
variant asked for) in the same run per set, two sets at a time. Prints a table of R@5/R@10/R@25
per set and system and, last, one JSON object with every set's full report and the machine.

    python benchmarks/dev_sets.py                                  # store and dense, every set
    python benchmarks/dev_sets.py --variant 'tg3={"weights": {"tags": 0.3}}'
    python benchmarks/dev_sets.py --sets dev_a beam_help --systems engram dense bm25

The sets: the bundled LoCoMo-format dialogue (`locomo_sample`, `locomo_dev_a`, `locomo_dev_b`,
the first two conversations of `locomo_blind`: its third is kept back as held-out data), the
bundled BEAM-format chats (`beam_dev`, `beam_long`, `beam_help`, `beam_blind`, `beam_blind2`),
and the real LoCoMo conversations of `../shared/data/locomo/locomo_dev3.json` where a checkout
has them (`dev3`). A change to the store's ranking is measured on all of them, both kinds of
conversation, before it lands. Each bench runs with one thread unless OMP_NUM_THREADS says
otherwise (two at a time on two cores); recall numbers do not depend on it."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from engram_agents_demo.bench.recall import machine

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
DEV3 = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev3.json"
# name: (benchmark, source, extra arguments)
SETS: dict[str, tuple[str, Path, list[str]]] = {
    "dev3": ("locomo", DEV3, []),
    "lb12": ("locomo", DATA / "locomo_blind" / "locomo_blind.json", ["--limit", "2"]),
    "dev_a": ("locomo", DATA / "locomo_dev_a.json", []),
    "dev_b": ("locomo", DATA / "locomo_dev_b.json", []),
    "sample": ("locomo", DATA / "locomo_sample.json", []),
    "beam_blind": ("beam", DATA / "beam_blind", []),
    "beam_blind2": ("beam", DATA / "beam_blind2", []),
    "beam_help": ("beam", DATA / "beam_help", []),
    "beam_dev": ("beam", DATA / "beam_dev", []),
    "beam_long": ("beam", DATA / "beam_long", []),
}


def run_set(name: str, options: list[str]) -> dict[str, Any]:
    """One set's `bench` report (its last output line), run in a subprocess as users run it."""
    kind, source, extra = SETS[name]
    command = [sys.executable, "-m", "engram_agents.cli", "bench", kind, str(source), "--json"]
    env = os.environ | {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run(
        [*command, *extra, *options], capture_output=True, text=True, check=False, env=env
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        raise SystemExit(f"{name}: bench failed ({done.returncode}): {done.stdout}{done.stderr}")
    return json.loads(lines[-1])


def table(reports: dict[str, dict[str, Any]]) -> str:
    systems = list(dict.fromkeys(s for r in reports.values() for s in r if s != "meta"))
    lines = [f"{'set':12} " + " ".join(f"{s[:18]:>18}" for s in systems)]
    for name, report in reports.items():
        cells = []
        for system in systems:
            o = report.get(system, {}).get("overall")
            cells.append(
                f"{o['recall@5']:.1f}/{o['recall@10']:.1f}/{o['recall@25']:.1f}" if o else "-"
            )
        lines.append(f"{name:12} " + " ".join(f"{c:>18}" for c in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=None)
    parser.add_argument("--systems", nargs="+", default=["engram", "dense"])
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON")
    parser.add_argument("--encoder", default=None, help="as `bench`: a folder, or 'hashing'")
    parser.add_argument("--jobs", type=int, default=2, help="sets run at once")
    args = parser.parse_args(argv)
    names = args.sets or [n for n, (_, source, _) in SETS.items() if source.exists()]
    missing = [n for n in names if not SETS[n][1].exists()]
    if missing:
        parser.error(f"no data for {', '.join(missing)} in this checkout")
    options = ["--systems", *args.systems]
    options += [f"--variant={v}" for v in args.variant]
    options += ["--encoder", args.encoder] if args.encoder else []
    with ThreadPoolExecutor(max(args.jobs, 1)) as pool:
        reports = dict(zip(names, pool.map(lambda n: run_set(n, options), names), strict=True))
    print(table(reports))
    print(json.dumps({"sets": reports, "machine": machine()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
