"""How long a demo run will take, said before it starts (a full run is hours on a small CPU).

The constants are seconds per model reply by mode and seconds of nightly memorization per user
turn, measured on a small CPU with the embedded model (benchmarks/RESULTS.md says where). Faster
hardware is quicker, so the result is an estimate, not a promise.
"""

from __future__ import annotations

from engram_agents_demo.demo.runner import IN_WEIGHTS
from engram_agents_demo.demo.scenario import Scenario

REPLY_SECONDS = {"none": 2.5, "rag": 2.8, "episodic": 2.9, "in_model": 5.0, "hybrid": 6.0}
# In-weights modes share one store: each night's consolidation runs once for all of them.
MEMORIZE_SECONDS_PER_TURN = 75.0


def estimate_seconds(scenario: Scenario, modes: tuple[str, ...]) -> float:
    """Replies (probes, and the user's turns except in "none" mode) times each mode's reply
    cost, plus the nightly memorization when a mode keeps memories in the weights."""
    probes = len(scenario.probes)
    turns = sum(len(d.turns) for d in scenario.days)
    replies = sum(REPLY_SECONDS[m] * (probes + (turns if m != "none" else 0)) for m in modes)
    nights = MEMORIZE_SECONDS_PER_TURN * turns if IN_WEIGHTS.intersection(modes) else 0.0
    return replies + nights


def duration_line(scenario: Scenario, modes: tuple[str, ...]) -> str:
    minutes = max(1, round(estimate_seconds(scenario, modes) / 60))
    return (
        f"{scenario.name}: {', '.join(modes)} — expected duration about {minutes} min "
        "(an estimate from the per-turn cost measured on a 2-vCPU CPU; faster hardware is quicker)"
    )
