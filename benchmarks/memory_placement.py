"""Where recalled memories go in the prompt, and in which order, for the demo scenarios.

    python benchmarks/memory_placement.py --scenario calendar coding

Replays each scenario's user turns into an episodic store and into a plain dense index (the
same MiniLM encoder: what the demo's `rag` mode retrieves from Chroma), then answers every probe
with the same recalled memories laid out four ways: in the system prompt or just before the
question, best memory first or last. Nothing is memorized into the weights, so this isolates
the prompt layout from in-model recall. The last line printed is one JSON object.

    python benchmarks/memory_placement.py --memorize

also plays the demo's nightly consolidation into the model (`consolidate_into_model` after each
day's turns) and answers each probe with that day's memorized tables loaded, as the demo's
hybrid mode does, adding a fifth layout: before the question as an unkeyed part (what the
LangChain middleware gives a ChatEngram). Each night's training takes minutes on a CPU;

    python benchmarks/memory_placement.py --memorize --tables DIR

keeps each day's tables in DIR/<scenario>/day<N>.safetensors and reuses those there instead of
training again, so other layouts can be replayed in minutes (empty DIR after changing the model,
the scenario or the memorization code).

    python benchmarks/memory_placement.py --memory-weight 0.5

gives every block as recalled text (unkeyed, a content part of its own) and decodes toward it
(`EngramLM.stream(memory_weight=...)`, what ChatEngram does with the middleware's block); the
RAG block too, so the gain is shown for both. `--tables-weight 0.5` (with `--memorize`) mixes in
what the day's tables recall from the question alone, as ChatEngram does beside a user.
"""

import argparse
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from engram_agents import EngramLM
from engram_agents.consolidation import consolidate_into_model
from engram_agents.memory import EngramMemory
from engram_agents.memory_context import (
    add_to_question,
    add_to_system_prompt,
    before_block,
    before_question,
    format_memories,
)
from engram_agents.store.config import StoreConfig
from engram_agents.store.encoders import default_encoder
from engram_agents_demo.demo.scenario import Probe, Scenario, load_scenario
from engram_agents_demo.demo.scoring import judge

RAG_HEADER = "Relevant past conversation:"  # the demo's rag middleware
LAYOUTS = ("system/best-first", "system/best-last", "question/best-first", "question/best-last")
UNKEYED = "unkeyed/best-last"  # before the question, read but not keyed (with --memorize)


def recalled(
    scenario: Scenario,
    encoder,
    k: int,
    root: Path,
    lm: EngramLM | None = None,
    tables_dir=None,
    config: StoreConfig | None = None,
) -> list[tuple[Probe, str, str, Path | None]]:
    """Per probe, in the demo's order: the episodic store's block and plain RAG's block (best
    last), built from what the user said before the probe (earlier probes included), and, given
    `lm`, the file of the user's tables memorized by then (None before the first night), kept in
    `tables_dir` (reused from there when it already holds that day's). `config`: the episodic
    store's settings (default StoreConfig)."""
    memory = EngramMemory(root / "episodic.db", encoder=encoder, config=config)
    weights = EngramMemory(root / "weights.db", encoder=encoder) if lm else None
    user, past, vectors, out = scenario.user_id, [], [], []
    tables, untrained = None, False  # untrained: the weights store holds days not memorized yet
    tables_dir = Path(tables_dir or root / "tables")
    tables_dir.mkdir(parents=True, exist_ok=True)

    def index(text: str) -> None:  # each text is encoded once, as it is said
        vector = encoder.encode([text])[0]
        past.append(text)
        vectors.append(vector / np.linalg.norm(vector))

    for day in scenario.days:
        if lm:
            snapshot = tables_dir / f"day{day.day}.safetensors"
            if snapshot.exists():  # memorized on an earlier run: the next night goes on from it
                with_tables(lm, user, snapshot)
            elif untrained:  # the demo's nightly consolidation into the model
                consolidate_into_model(weights, lm, user)
                if lm.memory_path(user).exists():
                    shutil.copy(lm.memory_path(user), snapshot)
            untrained = False
            tables = snapshot if snapshot.exists() else None
        for probe in scenario.probes_on(day.day):
            engrams = format_memories(memory.recall(probe.question, user, k))
            chunks = ""
            if past:
                query = encoder.encode([probe.question])[0]
                scores = np.stack(vectors) @ (query / np.linalg.norm(query))
                best = [past[i] for i in np.argsort(-scores)[:k]]
                chunks = "\n".join([RAG_HEADER, *(f"- {t}" for t in reversed(best))])
            out.append((probe, engrams, chunks, tables))
            memory.remember_many([probe.question], user, session_id=f"{day.day}-{probe.id}")
            index(probe.question)
        for turn in day.turns:
            memory.remember_many([turn.text], user, session_id=f"day{day.day}")
            index(turn.text)
        memory.consolidate(user)
        if weights is not None:  # memorized the next morning, unless a snapshot has it
            said = [{"role": "user", "content": t.text} for t in day.turns]
            if said:
                weights.remember(said, user, session_id=f"day{day.day}", event_time=day.date)
                untrained = True
    memory.close()
    if weights is not None:
        weights.close()
    return out


def laid_out(
    system: str, question: str, block: str, layout: str, recalled: bool = False
) -> list[dict]:
    """The chat for one probe; `recalled` gives the block as a recalled part of its own."""
    place, order = layout.split("/")
    if order == "best-first" and block:
        header, *lines = block.splitlines()
        header = header.replace("most relevant last", "most relevant first")
        block = "\n".join([header, *reversed(lines)])
    recalled = recalled and bool(block)
    if recalled and place == "system":
        parts = [before_block(system), {"text": block, "recalled": True}]
        return [{"role": "system", "content": parts}, {"role": "user", "content": question}]
    if recalled or place == "unkeyed":
        mark = {"recalled": True} if recalled else {"keyed": False}
        parts = [{"text": before_question(block), **mark}, question]
        return [{"role": "system", "content": system}, {"role": "user", "content": parts}]
    if place == "system":
        return [
            {"role": "system", "content": add_to_system_prompt(system, block)},
            {"role": "user", "content": question},
        ]
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": add_to_question(question, block)},
    ]


def with_tables(lm: EngramLM, user: str, tables: Path | None) -> str | None:
    """Load a day's memorized tables for the user (None: the shared tables)."""
    lm.unload_user()
    if tables is None:
        return None
    lm.memory_path(user).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(tables, lm.memory_path(user))
    return user


def run(
    lm: EngramLM,
    scenario: Scenario,
    k: int,
    max_new_tokens: int,
    memorize: bool,
    tables_dir=None,
    memory_weight: float = 0.0,
    tables_weight: float = 0.0,
) -> dict:
    lm.forget_user(scenario.user_id)
    layouts = (*LAYOUTS, UNKEYED) if memorize else LAYOUTS
    scores = {(layout, source): [0, 0] for layout in layouts for source in ("episodic", "rag")}
    mixed = memory_weight > 0 or tables_weight > 0  # the blocks as recalled parts
    with tempfile.TemporaryDirectory() as tmp:
        probes = recalled(
            scenario, default_encoder(), k, Path(tmp), lm if memorize else None, tables_dir
        )
        loaded = None  # the tables file loaded now (None: the shared tables)
        user = with_tables(lm, scenario.user_id, loaded)
        for probe, engrams, chunks, tables in probes:
            if tables != loaded:  # a new day's tables: load them once for all layouts
                user, loaded = with_tables(lm, scenario.user_id, tables), tables
            for layout in layouts:
                for source, block in (("episodic", engrams), ("rag", chunks)):
                    messages = laid_out(scenario.assistant, probe.question, block, layout, mixed)
                    reply = lm.chat(
                        messages,
                        max_new_tokens=max_new_tokens,
                        user_id=user,
                        memory_weight=memory_weight,
                        tables_weight=tables_weight,
                    )
                    ok, old = judge(reply, probe.answers, probe.stale)
                    scores[layout, source][0] += ok
                    scores[layout, source][1] += old
    result: dict = {}
    for (layout, source), (correct, stale) in scores.items():
        result.setdefault(layout, {})[source] = {
            "accuracy": correct / len(probes),
            "correct": correct,
            "stale": stale,
        }
    return {"probes": len(probes), "stale_able": sum(bool(p.stale) for p, *_ in probes), **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", nargs="+", default=["calendar", "coding"])
    parser.add_argument("--model", help="a local model folder (default: the embedded model)")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument(
        "--memorize", action="store_true", help="answer with each day's memorized tables too"
    )
    parser.add_argument(
        "--tables", type=Path, help="with --memorize: keep (and reuse) each day's tables here"
    )
    parser.add_argument(
        "--memory-weight",
        type=float,
        default=0.0,
        help="decode toward the recalled block this much (0: plain decoding, the block as text)",
    )
    parser.add_argument(
        "--tables-weight",
        type=float,
        default=0.0,
        help="with --memorize: add what the user's tables recall beside the block this much",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as users:
        lm = (
            EngramLM.from_pretrained(args.model, storage_dir=users)
            if args.model
            else EngramLM.from_default(storage_dir=users)
        )
        scenarios = {
            name: run(
                lm,
                load_scenario(name),
                args.k,
                args.max_new_tokens,
                args.memorize,
                args.tables / Path(name).stem if args.tables else None,
                args.memory_weight,
                args.tables_weight,
            )
            for name in args.scenario
        }
    print(
        json.dumps(
            {
                "benchmark": "memory_placement",
                "model": lm.model_id,
                "k": args.k,
                "memorized": args.memorize,
                "memory_weight": args.memory_weight,
                "tables_weight": args.tables_weight,
                "machine": f"{platform.machine()} {os.cpu_count()} cpus, torch threads "
                f"{torch.get_num_threads()}, {platform.processor() or platform.platform()}",
                "scenarios": scenarios,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
