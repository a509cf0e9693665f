"""The demo end to end on a tiny model: every mode, both frameworks, the CLI's outputs."""

import json
from pathlib import Path

import pytest

from engram_agents import TrainConfig
from engram_agents.store.encoders import HashingEncoder
from engram_agents_demo.demo import MODES, Workspace, frontend, load_scenario, run_scenario
from engram_agents_demo.demo.report import summary, table, write
from engram_agents_demo.demo.runner import ticks

MINI = Path(__file__).with_name("mini.json")


def run(tiny_lm, tmp_path, framework, modes=MODES):
    workspace = Workspace(
        load_scenario(MINI),
        tiny_lm,
        tmp_path / framework,
        HashingEncoder(dim=256),
        max_new_tokens=4,
        turn_tokens=4,
        train_config=TrainConfig(epochs=1, batch_size=8, min_steps=1),
    )
    reports: list[str] = []
    result = run_scenario(workspace, frontend(framework), modes, reports.append)
    assert len(reports) == ticks(workspace.scenario, modes)  # what the progress bar expects
    return result


@pytest.mark.parametrize("framework", ["langchain", "llama-index"])
def test_every_mode_runs_and_is_measured(tiny_lm, tmp_path, framework):
    result = run(tiny_lm, tmp_path, framework)
    modes = result["modes"]
    assert list(modes) == list(MODES)
    for mode, rows in result["records"].items():
        assert [r["probe"] for r in rows] == ["q1", "q2"], mode
        assert all(r["context_tokens"] > 0 for r in rows)
    # Nothing from day 1 reaches a model without retrieval; retrieval brings it back.
    assert modes["none"]["evidence_recall"] == 0.0
    assert modes["in_model"]["evidence_recall"] is None
    for mode in ("rag", "episodic", "hybrid"):
        assert modes[mode]["evidence_recall"] > 0, mode
        assert modes[mode]["context_tokens"] > modes["none"]["context_tokens"], mode
        assert modes[mode]["memory_bytes"] > 0, mode
    # The in-weights modes memorized the scenario's statements for its user, and the day-2
    # reschedule replaced the day-1 appointment there too (the store superseded it).
    assert {f.statement for f in tiny_lm.facts("tess")} == {
        "The weather is lovely today.",
        "The dentist called: my appointment moved to Friday at 10 am.",
    }
    assert modes["in_model"]["memory_bytes"] > 0
    assert set(modes["none"]["accuracy_by_day"]) == {2, 3}


def test_report_outputs(tiny_lm, tmp_path):
    result = run(tiny_lm, tmp_path, "langchain", ("none", "episodic"))
    data, png = write(result, tmp_path / "out")
    assert json.loads(data.read_text())["records"]["episodic"][0]["probe"] == "q1"
    assert png.read_bytes()[:4] == b"\x89PNG"
    line = json.dumps(summary(result))
    assert set(json.loads(line)["modes"]["episodic"]) >= {
        "accuracy",
        "stale_rate",
        "evidence_recall",
        "context_tokens",
        "latency_s",
        "memory_bytes",
    }
    assert "episodic" in table(result)


def test_cli_prints_the_table_and_one_json_object_last(tmp_path, capsys):
    from engram_agents.cli import main as engram_agents
    from engram_agents_demo.demo.cli import add_parser

    def main(argv: list[str]) -> int:
        return engram_agents(argv, commands={"demo": add_parser})

    argv = [
        "demo",
        str(MINI),
        "--mode",
        "none",
        "episodic",
        "--max-new-tokens",
        "4",
        "--turn-tokens",
        "4",
    ]
    assert main([*argv, "--out", str(tmp_path), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("mini: none, episodic — expected duration about ")
    last = json.loads(lines[-1])
    assert last["scenario"] == "mini" and set(last["modes"]) == {"none", "episodic"}
    assert "records" not in last
    assert any(line.lstrip().startswith("episodic") for line in lines)
    assert (tmp_path / "mini-langchain.png").exists()
    assert main(["demo", str(tmp_path / "nope.json")]) == 2
