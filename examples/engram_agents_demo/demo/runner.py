"""Runs a scenario day by day with several memory modes side by side, and measures each.

For every day: the day's probes are asked first, each in a fresh session (the context window
starts empty, so only memory of earlier days can answer), then the user's turns are said in one
session for that day, then the day ends (memories consolidate, facts move into the weights).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any, Protocol

from engram_agents.consolidation import consolidate_into_model
from engram_agents.errors import AccessDeniedError, InvalidInputError
from engram_agents.lm import EngramLM
from engram_agents.memory import EngramMemory
from engram_agents.model.memorize import TrainConfig
from engram_agents_demo.demo.scenario import Day, Scenario
from engram_agents_demo.demo.scoring import judge, reached

MODES = ("none", "rag", "episodic", "in_model", "hybrid")
RETRIEVES = {"rag", "episodic", "hybrid"}  # modes that put past turns into the prompt
IN_WEIGHTS = {"in_model", "hybrid"}  # modes that answer with the user's memorized tables
# The episodic stores (`Workspace.store`) each mode uses; the in-weights modes share "weights".
STORES = {"episodic": ("episodic",), "in_model": ("weights",), "hybrid": ("hybrid", "weights")}


@dataclass
class Exchange:
    """One model turn: the reply and everything the model was given."""

    reply: str
    prompt: str
    context_tokens: int
    seconds: float


class Agent(Protocol):
    def say(self, text: str, session: str, max_new_tokens: int) -> Exchange: ...
    def end_day(self, day: Day) -> None: ...


class Frontend(Protocol):
    """Builds one agent per memory mode in some agent framework (LangChain, LlamaIndex)."""

    name: str

    def agent(self, mode: str, workspace: Workspace) -> Agent: ...


def store_names(modes: tuple[str, ...]) -> list[str]:
    """The episodic stores the modes use, each once."""
    return list(dict.fromkeys(name for mode in modes for name in STORES.get(mode, ())))


@dataclass
class Workspace:
    """What the agents of one run share: the scenario, the model, and where memories live:
    files under `root`, or, given `memory_url`, the episodic stores on an `engram-agents serve`
    server (`EngramMemory.remote`). There each store is a user of its own, derived from the
    scenario user (`user`: "tess.episodic", "tess.hybrid", "tess.weights"), cleared first;
    the model's per-user memory stays keyed by the scenario user."""

    scenario: Scenario
    lm: EngramLM
    root: Path
    encoder: Any
    max_new_tokens: int = 32  # for answers to probes
    turn_tokens: int = 12  # for the assistant's acknowledgements of what the user tells it
    k: int = 5
    train_config: TrainConfig | None = None
    # Called with (step, steps, loss) while a night's memories train into the weights.
    memorize_progress: Callable[[int, int, float], None] | None = None
    memory_url: str | None = None
    api_key: str | None = None
    _stores: dict[str, EngramMemory] = field(default_factory=dict)
    _consolidated: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def user(self, name: str) -> str:
        """The user id the store `name` keeps the scenario user's memories under: locally each
        store is a file of its own; on a server, one user per store keeps them apart."""
        user = self.scenario.user_id
        return user if self.memory_url is None else f"{user}.{name}"

    def store(self, name: str) -> EngramMemory:
        """One episodic store per name; modes that consolidate into the weights share one."""
        if name not in self._stores:
            if self.memory_url is None:
                self._stores[name] = EngramMemory(self.root / f"{name}.db", encoder=self.encoder)
            else:
                remote = EngramMemory.remote(self.memory_url, api_key=self.api_key)
                self._stores[name] = remote  # closed with the workspace even if forget fails
                remote.forget(self.user(name), everything=True)  # start empty, as locally
        return self._stores[name]

    def open_stores(self, modes: tuple[str, ...]) -> None:
        """Open (on a server: empty) the stores of the modes before any turn. On a server, first
        check that the key may touch each store's user, so a key limited to named users fails
        at once, naming the user it lacks, with nothing cleared."""
        names = store_names(modes)
        if self.memory_url is not None and names:
            with EngramMemory.remote(self.memory_url, api_key=self.api_key) as probe:
                for name in names:
                    try:
                        probe.consent(self.user(name))  # reads one setting, changes nothing
                    except AccessDeniedError as exc:
                        needed = " ".join(f"--user {self.user(n)}" for n in names)
                        raise AccessDeniedError(
                            f"the API key may not touch user {self.user(name)!r}, where this run "
                            f"keeps the {name} store of {self.scenario.user_id!r} on the server "
                            f"(one user per store); use a key for all of the tenant's users, or "
                            f"one made with `engram-agents keys create --tenant TENANT {needed}`"
                        ) from exc
        for name in names:
            self.store(name)

    def consolidate_day(self, day: Day) -> None:
        """Session end for the in-weights modes: the day's turns go into the "weights" store,
        whose active memories are then consolidated into the user's Engram tables. Shared by
        the modes that use it, so it runs once a day."""
        if day.day in self._consolidated:
            return
        self._consolidated.add(day.day)
        store, user = self.store("weights"), self.user("weights")
        if day.turns:
            messages = [{"role": "user", "content": t.text} for t in day.turns]
            store.remember(messages, user, session_id=f"day{day.day}", event_time=day.date)
        consolidate_into_model(
            store,
            self.lm,
            user,
            self.train_config,
            self.memorize_progress,
            model_user_id=self.scenario.user_id,
        )

    def path(self, name: str) -> Path:
        return self.root / name

    def close(self) -> None:
        for store in self._stores.values():
            store.close()


def disk_bytes(workspace: Workspace, mode: str) -> int:
    """Bytes on disk of a mode's memory: its store or vector index, and its table delta. A
    store on a server counts as the size of the user's export (its files are out of reach)."""
    names = ("rag",) if mode == "rag" else STORES.get(mode, ())
    total = 0
    for name in names:
        if workspace.memory_url is not None and name != "rag":
            exported = workspace.store(name).export(workspace.user(name))
            total += len(json.dumps(exported).encode())
            continue
        for p in workspace.root.glob(f"{name}*"):
            files = p.rglob("*") if p.is_dir() else [p]
            total += sum(f.stat().st_size for f in files if f.is_file())
    if mode in IN_WEIGHTS:
        delta = workspace.lm.memory_path(workspace.scenario.user_id)
        total += delta.stat().st_size if delta.exists() else 0
    return total


def ticks(scenario: Scenario, modes: tuple[str, ...]) -> int:
    """How many times `run_scenario` reports progress: per mode, each probe, turn and day end."""
    return sum(
        len(modes) * (len(scenario.probes_on(d.day)) + len(d.turns) + 1) for d in scenario.days
    )


def run_scenario(
    workspace: Workspace,
    frontend: Frontend,
    modes: tuple[str, ...] = MODES,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Play the scenario for each mode and return per-probe records and per-mode summaries."""
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise InvalidInputError(f"unknown modes {unknown}; choose from {', '.join(MODES)}")
    scenario = workspace.scenario
    if workspace.root.exists():
        shutil.rmtree(workspace.root)
    workspace.root.mkdir(parents=True)
    try:
        workspace.open_stores(modes)
    except BaseException:
        workspace.close()
        raise
    workspace.lm.forget_user(scenario.user_id)
    agents = {m: frontend.agent(m, workspace) for m in modes}
    texts = scenario.turn_text()
    probes: dict[str, list[dict]] = {m: [] for m in modes}
    latency: dict[str, list[float]] = {m: [] for m in modes}
    tick = progress or (lambda _: None)
    try:
        for day in scenario.days:
            for probe in scenario.probes_on(day.day):
                for mode, agent in agents.items():
                    ex = agent.say(
                        probe.question, f"day{day.day}-{probe.id}", workspace.max_new_tokens
                    )
                    correct, stale = judge(ex.reply, probe.answers, probe.stale)
                    reach = [reached(texts[e], ex.prompt) for e in probe.evidence]
                    probes[mode].append(
                        {
                            "probe": probe.id,
                            "day": day.day,
                            "kind": probe.kind,
                            "question": probe.question,
                            "reply": ex.reply,
                            "correct": correct,
                            "stale": stale,
                            "can_be_stale": bool(probe.stale),
                            "evidence_recall": mean(reach) if reach else None,
                            "context_tokens": ex.context_tokens,
                        }
                    )
                    latency[mode].append(ex.seconds)
                    tick(f"day {day.day} {mode} {probe.id}")
            for turn in day.turns:
                for mode, agent in agents.items():
                    if mode != "none":  # nothing of a "none" day outlives its session
                        ex = agent.say(turn.text, f"day{day.day}", workspace.turn_tokens)
                        latency[mode].append(ex.seconds)
                    tick(f"day {day.day} {mode} {turn.id}")
            for mode, agent in agents.items():
                agent.end_day(day)
                tick(f"day {day.day} {mode} end")
        modes_out = {
            m: summarize(probes[m], latency[m], disk_bytes(workspace, m), m) for m in modes
        }
    finally:
        workspace.close()
    return {
        "scenario": scenario.name,
        "framework": frontend.name,
        "model": workspace.lm.model_id,
        "probes": len(scenario.probes),
        "modes": modes_out,
        "records": probes,
    }


def summarize(rows: list[dict], latency: list[float], size: int, mode: str) -> dict[str, Any]:
    stale_able = [r for r in rows if r["can_be_stale"]]
    evidence = [r["evidence_recall"] for r in rows if r["evidence_recall"] is not None]
    by_day: dict[int, list[bool]] = {}
    for r in rows:
        by_day.setdefault(r["day"], []).append(r["correct"])
    return {
        "accuracy": float(mean(r["correct"] for r in rows)) if rows else 0.0,
        "correct": sum(r["correct"] for r in rows),
        "stale_rate": float(mean(r["stale"] for r in stale_able)) if stale_able else 0.0,
        "stale": sum(r["stale"] for r in rows),
        # In-model memory puts nothing into the prompt: its evidence is in the weights.
        "evidence_recall": (float(mean(evidence)) if evidence else 0.0)
        if mode in RETRIEVES or mode == "none"
        else None,
        "context_tokens": float(mean(r["context_tokens"] for r in rows)) if rows else 0.0,
        "latency_s": mean(latency) if latency else 0.0,
        "memory_bytes": size,
        "accuracy_by_day": {d: float(mean(v)) for d, v in sorted(by_day.items())},
    }
