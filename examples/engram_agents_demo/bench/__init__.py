"""`engram-agents bench NAME ...`: one module per benchmark, each with `cli(argv) -> int`.

Adding a benchmark is one line in BENCHMARKS."""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = {
    "beam": "engram_agents_demo.bench.beam",
    "locomo": "engram_agents_demo.bench.locomo",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The `bench` command; the benchmark's own options follow its name."""
    bench = sub.add_parser("bench", help="run a benchmark (its own options follow its name)")
    bench.add_argument("name", choices=sorted(BENCHMARKS))
    bench.add_argument("options", nargs=argparse.REMAINDER, help="the benchmark's own (--help)")
    bench.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return importlib.import_module(BENCHMARKS[args.name]).cli(args.options)
