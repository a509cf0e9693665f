"""Recalled memories rendered as the system-prompt block both integrations use."""

import pytest

from engram_agents.errors import InvalidInputError
from engram_agents.memory import EngramMemory
from engram_agents.memory_context import (
    HEADER,
    add_to_question,
    add_to_system_prompt,
    before_question,
    format_memories,
)
from engram_agents.store.encoders import HashingEncoder


@pytest.fixture
def memory(tmp_path):
    with EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(dim=256)) as m:
        yield m


def test_block_from_real_hits(memory):
    memory.remember("My dentist appointment is on 5 June", user_id="ana", event_time="2024-05-01")
    memory.remember("I adopted a greyhound   called\nPixel", user_id="ana")
    hits = memory.recall("dentist appointment", user_id="ana", k=5)
    block = format_memories(hits)
    lines = block.splitlines()
    assert hits[0].engram.text.startswith("My dentist")  # recall gives the best first
    assert lines[0] == HEADER and len(lines) == 3
    assert lines[-1] == "- [2024-05-01] My dentist appointment is on 5 June"  # listed last
    assert lines[1].endswith("] I adopted a greyhound called Pixel")
    assert format_memories([]) == ""


def test_budget_keeps_first_memory(memory):
    memory.remember("alpha " * 50, user_id="ana")
    memory.remember("alpha beta", user_id="ana")
    hits = memory.recall("alpha", user_id="ana", k=5)
    block = format_memories(hits, header="M:", max_chars=60)
    assert len(block) <= 60 and block.startswith("M:\n- [") and block.endswith("…")
    assert len(block.splitlines()) == 2


def test_budget_drops_the_least_relevant_and_lists_the_best_last(memory):
    for text in ("alpha one", "alpha two", "alpha three"):
        memory.remember(text, user_id="ana")
    hits = memory.recall("alpha", user_id="ana", k=5)
    best = [h.engram.text for h in hits]
    line = len("- [2026-01-01] alpha three")
    block = format_memories(hits, header="M:", max_chars=len("M:") + 2 * (line + 1))
    assert [x.split("] ", 1)[1] for x in block.splitlines()[1:]] == best[:2][::-1]
    with pytest.raises(InvalidInputError, match="max_chars"):
        format_memories(hits, max_chars=0)


def test_add_to_question():
    assert add_to_question("When is it?", "MEM") == "MEM\n\nWhen is it?"
    assert add_to_question("When is it?", "") == "When is it?"
    assert before_question("MEM") + "When is it?" == add_to_question("When is it?", "MEM")
    assert before_question("") == ""


def test_add_to_system_prompt():
    assert add_to_system_prompt("Be brief.  ", "MEM") == "Be brief.\n\nMEM"
    assert add_to_system_prompt(None, "MEM") == "MEM" and add_to_system_prompt(" ", "MEM") == "MEM"
    assert add_to_system_prompt("Be brief.", "") == "Be brief."
