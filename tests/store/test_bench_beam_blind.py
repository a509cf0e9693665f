"""The blind BEAM-format chats (benchmarks/data/beam_blind) are what `bench beam` reads them as:
every evidence id is a message of its chat, message ids run 0..n-1, time anchors never go back,
and only abstention items have no evidence."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from engram_agents_demo.bench.beam import conversations

ROOT = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "beam_blind"
CHATS = sorted(ROOT.glob("chats/100K/*/chat.json"))


def test_there_are_three_chats_and_the_reader_reads_them_all():
    read = conversations(ROOT)
    assert len(CHATS) == 3 and len(read) == 3
    questions = [q for c in read for q in c.questions]
    assert len(questions) == 159 and sum(bool(q.evidence) for q in questions) == 150


@pytest.mark.parametrize("chat", CHATS, ids=lambda p: p.parent.name)
def test_a_chat_is_well_formed(chat: Path):
    batches = json.loads(chat.read_text("utf-8"))
    messages = [m for batch in batches for turn in batch["turns"] for m in turn]
    assert [m["id"] for m in messages] == list(range(len(messages)))
    assert sum(len(m["content"]) for m in messages) > 200_000
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
