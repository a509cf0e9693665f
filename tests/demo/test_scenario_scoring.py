import json
from pathlib import Path

import pytest

from engram_agents import InvalidInputError
from engram_agents_demo.demo.scenario import BUILTIN, load_scenario
from engram_agents_demo.demo.scoring import judge, mentions, reached

MINI = Path(__file__).with_name("mini.json")


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_scenarios_meet_the_brief(name):
    s = load_scenario(name)
    kinds = [p.kind for p in s.probes]
    day_of = {t.id: d.day for d in s.days for t in d.turns}
    assert len(s.probes) >= 30
    assert kinds.count("update") >= 5 and kinds.count("multi") >= 5
    for p in s.probes:
        if p.kind == "update":
            assert p.stale, p.id
        if p.kind == "multi":
            assert len({day_of[e] for e in p.evidence}) > 1, p.id


def test_mentions_is_whole_word_and_case_insensitive():
    assert mentions("It's at 3 PM, on Tuesday.", "3 pm")
    assert not mentions("at 13 pm", "3 pm")
    assert not mentions("Tuesdays", "Tuesday")
    assert mentions("run `just test` first", "just test")
    assert not mentions("anything", "...")


def test_judge_counts_a_reply_repeating_the_old_value_as_stale():
    assert judge("Friday at 10", ["Friday"], ["Tuesday"]) == (True, False)
    assert judge("Tuesday at 3 pm", ["Friday"], ["Tuesday"]) == (False, True)
    assert judge("Friday, not Tuesday", ["Friday"], ["Tuesday"]) == (False, True)
    assert judge("no idea", ["Friday"], []) == (False, False)


def test_reached_tolerates_reformatting_but_not_absence():
    turn = "My dentist appointment is on Tuesday at 3 pm."
    assert reached(turn, "- [2026-03-02] user: my dentist appointment is on Tuesday at 3 pm")
    assert not reached(turn, "user: I like the dentist")


def bad(tmp_path, change):
    data = json.loads(MINI.read_text())
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["probes"][0].update(evidence=["nope"]), "unknown turn"),
        (lambda d: d["probes"][0].update(evidence=["d2-01"]), "start of their day"),
        (lambda d: d["probes"][0].update(answers=[]), "answers"),
        (lambda d: d["days"].reverse(), "increasing order"),
        (lambda d: d["probes"][1].update(id="q1"), "probe ids must be unique"),
    ],
)
def test_bad_scenarios_are_named(tmp_path, change, message):
    with pytest.raises(InvalidInputError, match=message):
        load_scenario(bad(tmp_path, change))


def test_missing_scenario_is_named(tmp_path):
    with pytest.raises(InvalidInputError, match="no scenario"):
        load_scenario(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InvalidInputError, match="invalid scenario"):
        load_scenario(tmp_path / "broken.json")
