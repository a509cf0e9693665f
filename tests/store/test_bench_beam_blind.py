"""The blind BEAM-format chats (benchmarks/data/beam_blind and beam_blind2) are what `bench beam`
reads them as: every evidence id is a message of its chat, message ids run 0..n-1, time anchors
never go back, and only abstention items have no evidence."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from engram_agents_demo.bench.beam import conversations

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
# folder: (chats, questions, questions with evidence, least characters in a chat)
SETS = {"beam_blind": (3, 159, 150, 200_000), "beam_blind2": (2, 89, 83, 100_000)}
CHATS = [(name, p) for name in SETS for p in sorted((DATA / name).glob("chats/100K/*/chat.json"))]


@pytest.mark.parametrize("name", SETS)
def test_the_reader_reads_every_chat_and_question(name: str):
    chats, total, with_evidence, _ = SETS[name]
    read = conversations(DATA / name)
    assert len(read) == chats == sum(n == name for n, _ in CHATS)
    questions = [q for c in read for q in c.questions]
    assert len(questions) == total and sum(bool(q.evidence) for q in questions) == with_evidence


@pytest.mark.parametrize(("name", "chat"), CHATS, ids=[f"{n}-{p.parent.name}" for n, p in CHATS])
def test_a_chat_is_well_formed(name: str, chat: Path):
    batches = json.loads(chat.read_text("utf-8"))
    messages = [m for batch in batches for turn in batch["turns"] for m in turn]
    assert [m["id"] for m in messages] == list(range(len(messages)))
    assert sum(len(m["content"]) for m in messages) > SETS[name][3]
    anchors = [
        datetime.strptime(m["time_anchor"], "%B-%d-%Y") for m in messages if m.get("time_anchor")
    ]
    assert anchors == sorted(anchors)
    probing = json.loads((chat.parent / "probing_questions" / "probing_questions.json").read_text())
    assert len(probing) == 10  # every BEAM question type
    for kind, items in probing.items():
        for item in items:
            assert set(item["source_chat_ids"]) <= set(range(len(messages))), item["question"]
            assert (kind == "abstention") == (not item["source_chat_ids"]), item["question"]


ASSEMBLED = [p.parent for p in (DATA / "beam_blind").glob("chats/100K/1/src")] + [
    p.parent for p in sorted((DATA / "beam_blind2").glob("chats/100K/*/src"))
]


@pytest.mark.parametrize("chat", ASSEMBLED, ids=lambda p: p.name)
def test_the_assembler_rebuilds_each_chat_from_its_source(tmp_path: Path, chat: Path):
    copy = tmp_path / chat.name
    shutil.copytree(chat / "src", copy / "src")
    script = DATA / "make_beam_chats.py"
    subprocess.run([sys.executable, str(script), str(copy)], check=True, capture_output=True)
    for name in ("chat.json", "probing_questions/probing_questions.json"):
        assert (copy / name).read_bytes() == (chat / name).read_bytes(), name
