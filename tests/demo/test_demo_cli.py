"""What a demo user sees before and during a run: the modes compared, the expected duration,
the nightly memorization's progress, and a chart with whole days."""

import argparse
import math
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from engram_agents import TrainConfig
from engram_agents.store.encoders import HashingEncoder
from engram_agents_demo.demo import MODES, Workspace, frontend, load_scenario, run_scenario
from engram_agents_demo.demo.cli import NightBar, add_parser, chosen_modes
from engram_agents_demo.demo.estimate import REPLY_SECONDS, duration_line, estimate_seconds
from engram_agents_demo.demo.report import chart, figure

MINI = Path(__file__).with_name("mini.json")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["demo", *argv])


def test_default_compares_plain_rag_with_the_hybrid():
    assert chosen_modes(parse("calendar").mode) == ("rag", "hybrid")
    assert chosen_modes(parse("calendar", "--mode", "all").mode) == MODES
    assert chosen_modes(parse("calendar", "--mode", "episodic", "rag", "episodic").mode) == (
        "episodic",
        "rag",
    )


def test_help_names_every_mode(capsys):
    with pytest.raises(SystemExit):
        parse("--help")
    text = " ".join(capsys.readouterr().out.split())
    for mode in (*MODES, "all"):
        assert f"{mode}:" in text, mode
    assert "default: rag hybrid" in text


def test_duration_counts_replies_and_nights():
    scenario = load_scenario(MINI)  # 2 probes, 3 turns over 3 days
    assert estimate_seconds(scenario, ("none",)) == 2 * REPLY_SECONDS["none"]
    assert estimate_seconds(scenario, ("rag",)) == 5 * REPLY_SECONDS["rag"]
    # The in-weights modes add the nights' memorization, once however many of them run.
    hybrid = estimate_seconds(scenario, ("hybrid",))
    both = estimate_seconds(scenario, ("in_model", "hybrid"))
    assert hybrid > 5 * REPLY_SECONDS["hybrid"]
    assert both - hybrid == 5 * REPLY_SECONDS["in_model"]
    calendar = load_scenario("calendar")
    assert estimate_seconds(calendar, MODES) > estimate_seconds(calendar, ("rag", "hybrid"))
    line = duration_line(calendar, ("rag", "hybrid"))
    assert "expected duration about" in line and "estimate" in line and "rag, hybrid" in line


def accuracy_result(days: list[int]) -> dict:
    by_day = {d: 0.5 for d in days}
    return {
        "scenario": "mini",
        "framework": "langchain",
        "modes": {"rag": {"accuracy_by_day": by_day}, "hybrid": {"accuracy_by_day": by_day}},
    }


@pytest.mark.parametrize("keys", [int, str], ids=["result", "reloaded-json"])
def test_chart_labels_whole_days_only(tmp_path, keys):
    result = accuracy_result([2, 3, 4, 5, 6])
    for m in result["modes"].values():
        m["accuracy_by_day"] = {keys(d): v for d, v in m["accuracy_by_day"].items()}
    fig = figure(result)
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    plt.close(fig)
    assert labels == ["2", "3", "4", "5", "6"]
    assert chart(result, tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_nightly_memorization_reports_steps_and_loss(tiny_lm, tmp_path):
    steps: list[tuple[int, int, float]] = []
    workspace = Workspace(
        load_scenario(MINI),
        tiny_lm,
        tmp_path / "run",
        HashingEncoder(dim=256),
        max_new_tokens=2,
        turn_tokens=2,
        train_config=TrainConfig(epochs=1, batch_size=8, min_steps=3),
        memorize_progress=lambda *report: steps.append(report),
    )
    run_scenario(workspace, frontend("langchain"), ("hybrid",))
    # One training run per night that brought new statements (day 3 has no turns), each
    # counting its steps from 1 up to at most its announced total, with a finite loss.
    starts = [i for i, (step, _, _) in enumerate(steps) if step == 1]
    assert len(starts) == 2
    for i, (step, total, loss) in enumerate(steps):
        assert 1 <= step <= total and total >= 3
        assert math.isfinite(loss) and loss > 0
        if i not in starts:
            assert step == steps[i - 1][0] + 1


def test_night_bar_shows_each_night_with_its_loss(capsys):
    with NightBar() as bar:
        for night_steps in (3, 2):
            for step in range(1, night_steps + 1):
                bar.update(step, night_steps, 1.0 / step)
    err = capsys.readouterr().err
    assert "memorizing night 1" in err and "memorizing night 2" in err
    assert "2/3" in err and "loss=0.500" in err  # the step and its loss, drawn together
