"""The memory tools on the real embedded model (~135M): each step's tool is forced
(`tool_choice`), so the model only fills in the arguments. What it writes is whatever a 135M
model writes, so the checks are on the path, not on the prose: a
forced save reaches ana's store and no one else's, and a forced search in a new session answers
with a tool message (a result or an error the model can read) without ending the run."""

from __future__ import annotations

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import wrap_model_call
from langchain_core.messages import HumanMessage, ToolMessage

from langchain_engram import ChatEngram, create_memory_tools

pytestmark = pytest.mark.heavy


def forcing(tool: str):
    """Middleware forcing `tool` on the first model call of a run, and no tool after."""
    calls: list[str] = []

    @wrap_model_call
    def force(request, handler):
        choice = "none" if calls else tool
        calls.append(choice)
        return handler(request.override(tool_choice=choice))

    return force


def run(memory, tool: str, question: str, thread: str):
    agent = create_agent(
        ChatEngram(max_tokens=48),
        tools=create_memory_tools(memory),
        middleware=[forcing(tool)],
        system_prompt="You keep the user's long-term memory with your tools.",
    )
    return agent.invoke(
        {"messages": [HumanMessage(question)]},
        context={"user_id": "ana"},
        config={"configurable": {"thread_id": thread}},
    )["messages"]


def test_forced_tool_calls_on_the_real_model(core_memory):
    out = run(core_memory, "save_memory", "Remember: my dog is a greyhound called Pixel.", "t1")
    [saved] = core_memory.list("ana")
    assert saved.text.strip() and saved.scope.session_id == "t1"
    [result] = [m for m in out if isinstance(m, ToolMessage)]
    assert result.text.startswith(f"Saved memory id={saved.id}")
    assert core_memory.list("bob") == []

    out = run(core_memory, "search_memory", "What is my dog called?", "t2")
    [result] = [m for m in out if isinstance(m, ToolMessage)]
    assert result.name == "search_memory" and result.text
    assert out[-1].type == "ai" and not out[-1].tool_calls  # the run went on to an answer
    assert [e.id for e in core_memory.list("ana")] == [saved.id]  # searching stored nothing
