"""`engram-agents demo calendar|coding|SCENARIO.json`: play a multi-day scenario with memory
modes side by side (plain RAG against the hybrid by default), print a results table, write the
JSON and a chart."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from engram_agents_demo.demo.estimate import duration_line
from engram_agents_demo.demo.frontends import FRONTENDS, frontend
from engram_agents_demo.demo.report import summary, table, write
from engram_agents_demo.demo.runner import MODES, Workspace, run_scenario, ticks
from engram_agents_demo.demo.scenario import BUILTIN, load_scenario

# The question the demo exists for: does memory in the weights beat plain retrieval?
DEFAULT_MODES = ("rag", "hybrid")
MODE_HELP = (
    "none: no memory; rag: plain retrieval of past turns (LangChain/LlamaIndex + Chroma); "
    "episodic: the Engram episodic store; in_model: facts memorized into the model's Engram "
    "tables each night; hybrid: episodic store + in-model memory; all: every mode"
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="multi-day example agents: Engram memory vs plain RAG")
    demo.add_argument("scenario", help=f"{' or '.join(BUILTIN)}, or a scenario JSON file")
    demo.add_argument(
        "--mode",
        nargs="+",
        choices=[*MODES, "all"],
        default=list(DEFAULT_MODES),
        help=f"memory modes to compare (default: {' '.join(DEFAULT_MODES)}). {MODE_HELP}",
    )
    demo.add_argument("--framework", choices=sorted(FRONTENDS), default="langchain")
    demo.add_argument("--model", help="a local Hugging Face model folder (default: embedded)")
    demo.add_argument("--out", default="demo-results", help="where the JSON and chart go")
    demo.add_argument("--max-new-tokens", type=int, default=32, help="longest answer")
    demo.add_argument(
        "--turn-tokens", type=int, default=12, help="longest reply to what the user tells"
    )
    demo.add_argument("--k", type=int, default=5, help="memories or chunks retrieved per turn")
    demo.add_argument(
        "--memorize-epochs",
        type=float,
        help="training epochs when a day is consolidated into the weights (default: TrainConfig's)",
    )
    demo.add_argument(
        "--memory-url",
        help="keep the episodic stores on an `engram-agents serve` server at this URL instead "
        "of local files: one user per store there (USER.episodic, USER.hybrid, USER.weights), "
        "emptied first, so the key must allow those user ids",
    )
    demo.add_argument(
        "--api-key",
        default=os.environ.get("ENGRAM_API_KEY"),
        help="the server's API key (default: $ENGRAM_API_KEY)",
    )
    demo.add_argument("--json", action="store_true", help="print one JSON object last")
    demo.set_defaults(handler=run)


def chosen_modes(names: list[str]) -> tuple[str, ...]:
    """The --mode names in order, once each; "all" is every mode."""
    return MODES if "all" in names else tuple(dict.fromkeys(names))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from engram_agents import EngramLM, TrainConfig
    from engram_agents.store.encoders import default_encoder

    scenario = load_scenario(args.scenario)
    modes = chosen_modes(args.mode)
    print(duration_line(scenario, modes), flush=True)
    with tempfile.TemporaryDirectory(prefix="engram-demo-") as tmp:
        work = Path(tmp)
        lm = (
            EngramLM.from_pretrained(args.model, storage_dir=work / "users")
            if args.model
            else EngramLM.from_default(storage_dir=work / "users")
        )
        workspace = Workspace(
            scenario,
            lm,
            work / "memory",
            default_encoder(),
            max_new_tokens=args.max_new_tokens,
            turn_tokens=args.turn_tokens,
            k=args.k,
            train_config=TrainConfig(epochs=args.memorize_epochs) if args.memorize_epochs else None,
            memory_url=args.memory_url,
            api_key=args.api_key,
        )
        with (
            tqdm(total=ticks(scenario, modes), desc=scenario.name, unit="turn", leave=False) as bar,
            NightBar() as night,
        ):
            workspace.memorize_progress = night.update
            result = run_scenario(
                workspace, frontend(args.framework), modes, lambda what: bar.update()
            )
    data, png = write(result, Path(args.out))
    print(table(result))
    print(f"wrote {data} and {png}")
    if args.json:
        print(json.dumps(summary(result)))
    return 0


class NightBar:
    """A second progress bar for each night's memorization into the model (minutes with no turn
    to count): training steps, with the loss beside them. A new bar starts when a night's
    training starts (step 1); training may stop early, below its target loss."""

    def __init__(self) -> None:
        self.bar = None
        self.night = 0

    def update(self, step: int, steps: int, loss: float) -> None:
        from tqdm import tqdm

        if step == 1:
            self.close()
            self.night += 1
            # A step takes seconds: draw every one (mininterval=0), loss included.
            self.bar = tqdm(
                total=steps,
                desc=f"memorizing night {self.night}",
                unit="step",
                leave=False,
                mininterval=0,
            )
        self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> NightBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
