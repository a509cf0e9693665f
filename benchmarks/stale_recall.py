"""The demo's stale-answer probes at the retrieval level, for supersede settings: no model.

    python benchmarks/stale_recall.py --rule 'noasst={"assistant_supersedes": false}'

Replays each scenario as `memory_placement.recalled` does (the user's turns day by day, each
probe's question as it is asked, the nightly `consolidate`) into a store per setting (the
defaults, the supersede rule switched off, and each `--rule NAME=JSON` of StoreConfig fields),
and judges each probe's recalled block (top k, superseded engrams hidden as an agent recalls)
as the demo judges a reply: current when it names an answer and no overridden value, stale
when it names an overridden value. The demo's stale-answer probes need the rule; a setting
that hides fewer false updates must not bring those back. Prints one JSON object."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from memory_placement import recalled
from reply_use import RULE_OFF, rules_of

from engram_agents.store.config import StoreConfig
from engram_agents.store.encoders import default_encoder
from engram_agents_demo.bench.recall import machine
from engram_agents_demo.demo.scenario import load_scenario
from engram_agents_demo.demo.scoring import judge


def score(scenarios: list[str], config: StoreConfig, encoder: Any, k: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in scenarios:
        with tempfile.TemporaryDirectory() as tmp:
            blocks = recalled(load_scenario(name), encoder, k, Path(tmp), config=config)
        counts = {"probes": 0, "current": 0, "stale_able": 0, "stale_able_current": 0, "stale": 0}
        for probe, block, _, _ in blocks:
            current, stale = judge(block, probe.answers, probe.stale)
            counts["probes"] += 1
            counts["current"] += current
            if probe.stale:
                counts["stale_able"] += 1
                counts["stale_able_current"] += current
                counts["stale"] += stale
        out[name] = counts
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", nargs="+", default=["calendar", "coding"])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--rule", action="append", default=[], help="NAME=JSON: StoreConfig")
    args = parser.parse_args(argv)
    rules = {"rule on": StoreConfig(), "rule off": RULE_OFF, **rules_of(args.rule)}
    encoder = default_encoder()
    start, cpu = time.perf_counter(), time.process_time()
    results = {name: score(args.scenario, cfg, encoder, args.k) for name, cfg in rules.items()}
    spent = {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}
    print(
        json.dumps(
            {"machine": machine(), "k": args.k, "scenarios": args.scenario, "results": results}
            | {key: round(value, 1) for key, value in spent.items()},
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
