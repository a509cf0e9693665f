"""Memory tools in real create_agent loops: a scripted tool-calling model saves a memory, then in
a new session finds, corrects and forgets it, reading ids from the tools' results; the store is
checked after each step. The user comes from the run, never from the model's arguments."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from typing_extensions import TypedDict

from langchain_engram import EngramMemoryMiddleware, create_memory_tools

PET = "The user's dog is a greyhound called Pixel"
RENAMED = "The user's dog is a greyhound called Bolt"

Step = str | tuple[str, dict[str, Any]] | Callable[[Sequence[BaseMessage]], Any]


class UserContext(TypedDict):
    user_id: str


class ToolScript(BaseChatModel):
    """A chat model replaying a script: each step is a reply text, a (tool, args) call, or a
    function of the messages so far returning one of those (to use what a tool returned)."""

    steps: list[Any]
    taken: int = 0

    @property
    def _llm_type(self) -> str:
        return "tool-script"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolScript:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        step = self.steps[self.taken]
        self.taken += 1
        if callable(step):
            step = step(messages)
        if isinstance(step, str):
            message = AIMessage(step)
        else:
            call = {"name": step[0], "args": step[1], "id": f"call-{self.taken}"}
            message = AIMessage("", tool_calls=[call])
        return ChatResult(generations=[ChatGeneration(message=message)])


def found_id(messages: Sequence[BaseMessage]) -> str:
    """The first memory id in the latest tool result."""
    result = next(m for m in reversed(messages) if isinstance(m, ToolMessage))
    return re.search(r"id=(\w+)", result.text).group(1)


def run(memory, user: str, thread: str, question: str, *steps: Step, **agent_kwargs):
    agent = create_agent(
        ToolScript(steps=list(steps)),
        tools=create_memory_tools(memory),
        context_schema=UserContext,
        **agent_kwargs,
    )
    return agent.invoke(
        {"messages": [HumanMessage(question)]},
        context={"user_id": user},
        config={"configurable": {"thread_id": thread}},
    )["messages"]


def tool_results(messages: Sequence[BaseMessage]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


def test_save_then_search_update_forget_across_sessions(core_memory):
    # session 1: the agent decides what is worth keeping
    out = run(
        core_memory,
        "ana",
        "t1",
        "My greyhound is called Pixel.",
        ("save_memory", {"content": PET}),
        "I'll remember that.",
    )
    [saved] = core_memory.list("ana")
    assert saved.text == PET and saved.scope.session_id == "t1"
    assert tool_results(out)[0].text == f"Saved memory id={saved.id}: {PET}"

    # session 2: search, answer from the result
    out = run(
        core_memory,
        "ana",
        "t2",
        "What is my dog called?",
        ("search_memory", {"query": "dog name", "k": 3}),
        lambda messages: "Pixel" if "Pixel" in messages[-1].text else "I don't know",
    )
    [found] = tool_results(out)
    assert found.status == "success" and found.text.startswith("1 memory:\n")
    assert f"- id={saved.id} [" in found.text and f"] {PET} (why: similarity " in found.text
    assert found.artifact[0]["id"] == saved.id and found.artifact[0]["text"] == PET
    assert out[-1].text == "Pixel"
    assert [e.text for e in core_memory.list("ana")] == [PET]  # searching stores nothing

    # still session 2: the dog was renamed; the model corrects the memory it finds
    out = run(
        core_memory,
        "ana",
        "t2",
        "I renamed my dog Bolt.",
        ("search_memory", {"query": "dog called"}),
        lambda messages: ("update_memory", {"id": found_id(messages), "content": RENAMED}),
        "Noted.",
    )
    [corrected] = core_memory.list("ana")
    assert corrected.id == saved.id and corrected.text == RENAMED
    assert [v.text for v in corrected.history] == [PET]
    assert tool_results(out)[-1].text == f"Updated memory id={saved.id}: {RENAMED}"

    # the user asks the agent to forget it
    out = run(
        core_memory,
        "ana",
        "t2",
        "Forget everything about my dog.",
        ("search_memory", {"query": "dog"}),
        lambda messages: ("forget_memory", {"id": found_id(messages)}),
        "Forgotten.",
    )
    assert core_memory.list("ana") == []
    assert tool_results(out)[-1].text == f"Forgot memory id={saved.id}."
    assert out[-1].text == "Forgotten."


def test_a_user_id_from_the_model_is_ignored(core_memory):
    bob = core_memory.remember("Bob's cat is called Miso", "bob")
    out = run(
        core_memory,
        "ana",
        "t1",
        "Remember my tea, and tell me about bob's cat.",
        ("save_memory", {"content": "Ana drinks green tea", "user_id": "bob"}),
        ("search_memory", {"query": "cat called Miso", "user_id": "bob"}),
        ("update_memory", {"id": bob.id, "content": "Bob has no cat", "user_id": "bob"}),
        ("forget_memory", {"id": bob.id, "user_id": "bob"}),
        "Done.",
    )
    saved, searched, updated, forgot = tool_results(out)
    assert saved.status == searched.status == "success"
    assert [e.text for e in core_memory.list("ana")] == ["Ana drinks green tea"]
    assert "Miso" not in searched.text
    assert updated.status == forgot.status == "error"
    assert f"no engram {bob.id!r} for user 'ana'" in forgot.text
    assert [(e.id, e.text) for e in core_memory.list("bob")] == [(bob.id, bob.text)]
    assert out[-1].text == "Done."  # errors went back to the model; the run went on


def test_the_model_sees_schemas_without_the_user(core_memory):
    tools = {t.name: t for t in create_memory_tools(core_memory)}
    assert list(tools) == ["search_memory", "save_memory", "update_memory", "forget_memory"]
    shown = {name: t.tool_call_schema.model_json_schema() for name, t in tools.items()}
    assert list(shown["search_memory"]["properties"]) == ["query", "k", "time_range", "tags"]
    assert shown["search_memory"]["required"] == ["query"]
    assert shown["update_memory"]["required"] == ["id", "content"]
    for schema in shown.values():
        assert not {"user_id", "runtime"} & schema["properties"].keys()
        assert all(field.get("description") for field in schema["properties"].values())


def test_bad_arguments_come_back_as_tool_errors(core_memory):
    core_memory.remember(PET, "ana")
    out = run(
        core_memory,
        "ana",
        "t1",
        "Fix it.",
        ("update_memory", {"id": "nope", "content": RENAMED}),
        ("save_memory", {"content": "   "}),
        ("search_memory", {"query": "dog", "k": 500}),
        ("search_memory", {"query": "dog", "time_range": "whenever"}),
        "Sorry.",
    )
    results = tool_results(out)
    assert [r.status for r in results] == ["error"] * 4
    assert "update_memory failed: no engram 'nope'" in results[0].text
    assert "k" in results[2].text and "less than or equal to 20" in results[2].text
    assert "time_range 'whenever' names no date or period" in results[3].text
    assert [e.text for e in core_memory.list("ana")] == [PET]  # nothing lost or added
    assert out[-1].text == "Sorry."


def test_user_from_config_or_default_and_a_clear_error_without(core_memory):
    search, save, *_ = create_memory_tools(core_memory, user_id="ana", agent_id="helper")
    saved = save.invoke({"content": PET})
    assert saved.startswith("Saved memory id=")
    assert core_memory.list("ana")[0].scope.agent_id == "helper"
    configured = search.invoke({"query": "greyhound"}, config={"configurable": {"user_id": "bob"}})
    assert configured == "No memories found."  # config names bob, who has none
    _, lone_save, *_ = create_memory_tools(core_memory)
    with pytest.raises(ValueError, match="create_memory_tools needs a user id"):
        lone_save.invoke({"content": PET})


def test_middleware_remembering_left_to_the_tools(core_memory):
    middleware = EngramMemoryMiddleware(core_memory, remember="tools")
    run(
        core_memory,
        "ana",
        "t1",
        "Hi! By the way my greyhound is called Pixel.",
        ("save_memory", {"content": PET}),
        "Saved.",
        middleware=[middleware],
    )
    assert [e.text for e in core_memory.list("ana")] == [PET]  # not the user's turn as well
    with pytest.raises(ValueError, match="remember must be 'turns' or 'tools'"):
        EngramMemoryMiddleware(core_memory, remember="never")


async def test_async_agent(core_memory):
    agent = create_agent(
        ToolScript(steps=[("save_memory", {"content": PET}), "Saved."]),
        tools=create_memory_tools(core_memory),
    )
    await agent.ainvoke(
        {"messages": [HumanMessage("My greyhound is Pixel")]},
        config={"configurable": {"user_id": "ana", "thread_id": "t9"}},
    )
    assert [(e.text, e.scope.session_id) for e in core_memory.list("ana")] == [(PET, "t9")]
