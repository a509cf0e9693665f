"""EngramMemoryToolSpec in real LlamaIndex agents: a scripted function-calling model saves a
memory, then in a new session finds, corrects and forgets it, reading ids from the tools'
results; the store is checked after each step. The user is bound when the spec is built."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ReActAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM

from engram_agents import InvalidInputError
from llama_index.tools.engram import EngramMemoryToolSpec

PET = "The user's dog is a greyhound called Pixel"
RENAMED = "The user's dog is a greyhound called Bolt"

Step = str | tuple[str, dict[str, Any]] | Callable[[Sequence[ChatMessage]], Any]


def scripted(*steps: Step) -> MockFunctionCallingLLM:
    """A function-calling model replaying `steps`: reply texts, (tool, kwargs) calls, or
    functions of the messages so far returning one of those."""
    left = list(steps)

    def respond(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        step = left.pop(0)
        if callable(step):
            step = step(messages)
        if isinstance(step, str):
            return ChatMessage(role="assistant", content=step)
        call = ToolCallBlock(tool_call_id=f"c{len(left)}", tool_name=step[0], tool_kwargs=step[1])
        return ChatMessage(role="assistant", blocks=[call])

    return MockFunctionCallingLLM(response_generator=respond, is_chat_model=True)


def found_id(messages: Sequence[ChatMessage]) -> str:
    """The first memory id in the latest tool result."""
    result = next(m for m in reversed(messages) if m.role == MessageRole.TOOL)
    return re.search(r"id=(\w+)", result.content).group(1)


async def run(spec: EngramMemoryToolSpec, question: str, *steps: Step):
    """The agent's answer and the outputs of the tools it called."""
    agent = FunctionAgent(tools=spec.to_tool_list(), llm=scripted(*steps))
    handler = agent.run(question)
    outputs = [
        e.tool_output async for e in handler.stream_events() if isinstance(e, ToolCallResult)
    ]
    return str(await handler), outputs


async def test_save_then_search_update_forget_across_sessions(store):
    first = EngramMemoryToolSpec(store, "ana", session_id="s1")
    answer, [saved_out] = await run(
        first, "My greyhound is called Pixel.", ("save_memory", {"content": PET}), "Noted."
    )
    [saved] = store.list("ana")
    assert saved.text == PET and saved.scope.session_id == "s1"
    assert saved_out.content == f"Saved memory id={saved.id}: {PET}" and answer == "Noted."

    # a new session: a new spec and agent over the same store
    second = EngramMemoryToolSpec(store, "ana", session_id="s2")
    answer, [found] = await run(
        second,
        "What is my dog called?",
        ("search_memory", {"query": "dog name", "k": 3}),
        lambda messages: "Pixel" if "Pixel" in messages[-1].content else "I don't know",
    )
    assert not found.is_error and found.content.startswith("1 memory:\n")
    assert f"- id={saved.id} [" in found.content and f"] {PET} (why: similarity " in found.content
    assert answer == "Pixel" and [e.text for e in store.list("ana")] == [PET]

    _, [_, updated] = await run(
        second,
        "I renamed my dog Bolt.",
        ("search_memory", {"query": "dog called"}),
        lambda messages: ("update_memory", {"id": found_id(messages), "content": RENAMED}),
        "Noted.",
    )
    [corrected] = store.list("ana")
    assert (corrected.id, corrected.text) == (saved.id, RENAMED)
    assert [v.text for v in corrected.history] == [PET]
    assert updated.content == f"Updated memory id={saved.id}: {RENAMED}"

    _, [_, forgot] = await run(
        second,
        "Forget my dog.",
        ("search_memory", {"query": "dog"}),
        lambda messages: ("forget_memory", {"id": found_id(messages)}),
        "Forgotten.",
    )
    assert store.list("ana") == [] and forgot.content == f"Forgot memory id={saved.id}."


async def test_a_user_id_from_the_model_is_rejected(store):
    bob = store.remember("Bob's cat is called Miso", "bob")
    spec = EngramMemoryToolSpec(store, "ana")
    answer, outputs = await run(
        spec,
        "Change bob's memories.",
        ("save_memory", {"content": "Bob has no cat", "user_id": "bob"}),
        ("forget_memory", {"id": bob.id, "user_id": "bob"}),
        ("forget_memory", {"id": bob.id}),
        ("update_memory", {"id": bob.id, "content": "Bob has no cat"}),
        ("search_memory", {"query": "cat called Miso"}),
        "Done.",
    )
    assert [o.is_error for o in outputs] == [True, True, True, True, False]
    assert "user_id" in outputs[0].content  # no tool takes a user
    assert f"no engram {bob.id!r} for user 'ana'" in outputs[2].content
    assert outputs[4].content == "No memories found."
    assert store.list("ana") == []
    assert [(e.id, e.text) for e in store.list("bob")] == [(bob.id, bob.text)]
    assert answer == "Done."  # errors went back to the model; the run went on


async def test_bad_arguments_come_back_as_tool_errors(store):
    store.remember(PET, "ana")
    _, outputs = await run(
        EngramMemoryToolSpec(store, "ana"),
        "Fix it.",
        ("save_memory", {"content": "   "}),
        ("search_memory", {"query": "dog", "k": 500}),
        ("search_memory", {"query": "dog", "time_range": "whenever"}),
        "Sorry.",
    )
    assert all(o.is_error for o in outputs)
    assert "less than or equal to 20" in outputs[1].content
    assert "time_range 'whenever' names no date or period" in outputs[2].content
    assert [e.text for e in store.list("ana")] == [PET]


def test_tools_show_the_shared_schemas_without_a_user(store):
    tools = EngramMemoryToolSpec(store, "ana").to_tool_list()
    assert [t.metadata.name for t in tools] == [
        "search_memory",
        "save_memory",
        "update_memory",
        "forget_memory",
    ]
    search = tools[0].metadata.get_parameters_dict()
    assert list(search["properties"]) == ["query", "k", "time_range", "tags"]
    assert search["required"] == ["query"]
    assert all("user_id" not in t.metadata.get_parameters_dict()["properties"] for t in tools)
    with pytest.raises(InvalidInputError, match="user_id must be a non-empty string"):
        EngramMemoryToolSpec(store, " ")


async def test_react_agent(store):
    def react(tool: str, kwargs: dict[str, Any]) -> str:
        return f"Thought: I need a tool.\nAction: {tool}\nAction Input: {json.dumps(kwargs)}"

    spec = EngramMemoryToolSpec(store, "ana")
    llm = scripted(
        react("save_memory", {"content": PET}),
        "Thought: I can answer without using any more tools.\nAnswer: Saved.",
    )
    agent = ReActAgent(tools=spec.to_tool_list(), llm=llm)
    assert str(await agent.run("My greyhound is called Pixel.")) == "Saved."
    assert [e.text for e in store.list("ana")] == [PET]
