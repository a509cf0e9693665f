"""Scopes: the user is always a boundary; agent and session are boundaries when given. Writes
never fold one agent's statement into another agent's engram, so an agent boundary holds."""

from __future__ import annotations

import pytest

from engram_agents.store.errors import InvalidInputError

DENTIST = "the dentist appointment is on Tuesday at 3 pm"


def _ids(hits) -> set[str]:
    return {h.engram.id for h in hits}


def test_recall_with_agent_id_returns_only_that_agents_engrams(make_memory):
    memory = make_memory()
    mine = memory.remember(DENTIST, "u", agent_id="planner", session_id="s1")
    theirs = memory.remember("the dentist is called Dr Rivera", "u", agent_id="coder")
    unscoped = memory.remember("the dentist parking is behind the bakery", "u")
    memory.remember("the dentist appointment is on Monday", "other-user", agent_id="planner")
    assert _ids(memory.recall("dentist", "u")) == {mine.id, theirs.id, unscoped.id}
    assert _ids(memory.recall("dentist", "u", agent_id="planner")) == {mine.id}
    assert _ids(memory.recall("dentist", "u", agent_id="coder")) == {theirs.id}
    assert _ids(memory.recall("dentist", "u", filters={"agent_id": "coder"})) == {theirs.id}
    assert memory.recall("dentist", "u", agent_id="nobody") == []
    assert _ids(memory.recall("dentist", "u", session_id="s1")) == {mine.id}
    assert [e.id for e in memory.list("u", agent_id="coder")] == [theirs.id]


def test_one_agent_never_reinforces_or_replaces_anothers_engram(memory):
    planner = memory.remember(DENTIST, "u", agent_id="planner")
    coder = memory.remember(DENTIST, "u", agent_id="coder")  # the same words, another agent
    assert coder.id != planner.id
    again = memory.remember(DENTIST, "u", agent_id="planner")
    assert again.id == planner.id and again.stats.activations == 1
    memory.remember(
        "the dentist appointment moved to Friday at 3 pm instead", "u", agent_id="coder"
    )
    assert memory.get(planner.id, "u").is_active  # the coder's update is not the planner's
    assert not memory.get(coder.id, "u").is_active
    assert [h.engram.text for h in memory.recall("dentist", "u", agent_id="planner")] == [DENTIST]


def test_consolidation_merges_only_within_one_agent(memory):
    for agent in ("planner", "coder"):
        memory.remember("the cabin wifi password is blue otter forty two", "u", agent_id=agent)
        memory.remember("the cabin wifi password is blue otter forty two ok", "u", agent_id=agent)
    report = memory.consolidate("u")
    assert len(report.merged) == 2
    agents = sorted(memory.get(m, "u").scope.agent_id for m in report.merged)
    assert agents == ["coder", "planner"]


@pytest.mark.parametrize("bad", ["", "a\x00b", 5])
def test_a_bad_agent_id_is_our_error(memory, bad):
    memory.remember(DENTIST, "u", agent_id="planner")
    with pytest.raises(InvalidInputError, match="agent_id"):
        memory.recall("dentist", "u", agent_id=bad)
    with pytest.raises(InvalidInputError, match="agent_id"):
        memory.list("u", agent_id=bad)
