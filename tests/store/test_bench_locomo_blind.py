"""The blind LoCoMo-format conversations (benchmarks/data/locomo_blind) are what `bench locomo`
reads them as: built from their source exactly, every evidence label a turn, session dates in
order, and all five LoCoMo categories asked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from engram_agents.store.timeexpr import parse_when
from engram_agents_demo.bench.locomo import CATEGORIES, conversations, load

ROOT = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "locomo_blind"
FILE = ROOT / "locomo_blind.json"


def _copy(tmp_path: Path) -> Path:
    """The folder copied, so a build writes nothing into the checkout."""
    return Path(shutil.copytree(ROOT, tmp_path / "locomo_blind"))


def test_the_file_is_what_its_source_builds(tmp_path):
    copy = _copy(tmp_path)
    (copy / "locomo_blind.json").unlink()
    subprocess.run(
        [sys.executable, "make_locomo_blind.py"], cwd=copy, check=True, capture_output=True
    )
    assert (copy / "locomo_blind.json").read_bytes() == FILE.read_bytes()


def test_every_question_has_evidence_and_every_category_is_asked():
    read = conversations(FILE)
    assert len(read) == 3
    for conversation in read:
        assert len(conversation.turns) >= 400
        assert all(q.evidence for q in conversation.questions)
        assert {q.category for q in conversation.questions} == set(CATEGORIES.values())


def test_sessions_are_dated_in_order():
    for conversation in load(FILE):
        conv = conversation["conversation"]
        numbers = sorted(int(k.split("_")[1]) for k in conv if k.endswith("_date_time"))
        assert numbers == list(range(1, len(numbers) + 1))
        dates = [parse_when(conv[f"session_{n}_date_time"]) for n in numbers]
        assert dates == sorted(dates) and len(set(dates)) == len(dates)


def test_a_bad_label_is_named(tmp_path):
    copy = _copy(tmp_path)
    questions = copy / "src" / "conv_1" / "questions.json"
    items = json.loads(questions.read_text("utf-8"))
    items[0]["evidence"] = ["no_such_label"]
    questions.write_text(json.dumps(items))
    run = subprocess.run(
        [sys.executable, "make_locomo_blind.py"], cwd=copy, capture_output=True, text=True
    )
    assert run.returncode != 0 and "no_such_label" in run.stderr
