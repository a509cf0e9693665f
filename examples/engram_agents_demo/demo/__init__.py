"""Multi-day example agents: every memory mode on the same scenario, measured side by side."""

from engram_agents_demo.demo.frontends import frontend
from engram_agents_demo.demo.runner import MODES, Workspace, run_scenario
from engram_agents_demo.demo.scenario import Scenario, load_scenario

__all__ = ["MODES", "Scenario", "Workspace", "frontend", "load_scenario", "run_scenario"]
