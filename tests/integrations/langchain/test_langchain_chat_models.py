"""ChatEngram: mechanics on a tiny random model (fast), langchain-tests' standard unit suite."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool
from langchain_tests.unit_tests import ChatModelUnitTests
from pydantic import BaseModel

from langchain_engram import ChatEngram
from langchain_engram.chat_models import to_engram_messages


@tool
def ping() -> str:
    """Check that the service is up."""
    return "pong"


@tool
def magic_function(input: int) -> int:
    """Apply a magic function to an input."""
    return input + 2


class Flag(BaseModel):
    """A flag with no fields."""


class TestChatEngramUnit(ChatModelUnitTests):
    """The standard unit suite; construction never loads a model (it loads on first use)."""

    @property
    def chat_model_class(self) -> type[ChatEngram]:
        return ChatEngram

    @property
    def chat_model_params(self) -> dict:
        return {"seed": 0}


@pytest.fixture
def chat(tiny_lm) -> ChatEngram:
    return ChatEngram(lm=tiny_lm, max_tokens=6)


def test_invoke_usage_and_metadata(chat, tiny_lm):
    reply = chat.invoke("Hello there")
    assert isinstance(reply, AIMessage) and reply.content
    prompt = tiny_lm.count_tokens([{"role": "user", "content": "Hello there"}])
    usage = reply.usage_metadata
    assert usage["input_tokens"] == prompt
    assert 1 <= usage["output_tokens"] <= 6
    assert usage["total_tokens"] == prompt + usage["output_tokens"]
    assert reply.response_metadata["model_provider"] == "engram"
    assert chat.get_num_tokens_from_messages([HumanMessage("Hello there")]) == prompt


def test_stream_matches_invoke_and_ends_with_usage(chat):
    chunks = list(chat.stream("Hello there"))
    assert len(chunks) >= 2 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert chunks[-1].chunk_position == "last" and chunks[-1].usage_metadata
    full = sum(chunks[1:], chunks[0])
    assert full.content == chat.invoke("Hello there").content  # greedy: same text


async def test_async_and_batch(chat):
    want = chat.invoke("Hi").content
    assert (await chat.ainvoke("Hi")).content == want
    assert [m.content for m in chat.batch(["Hi", "Hi"])] == [want, want]
    assert [m.content for m in await chat.abatch(["Hi", "Hi"])] == [want, want]
    chunks = [c async for c in chat.astream("Hi")]
    assert "".join(c.content for c in chunks) == want

    async def text(prompt: str) -> str:
        return "".join([c.content async for c in chat.astream(prompt)])

    # concurrent streams share one model: each runs whole in its own thread, one at a time
    both = await asyncio.gather(*(text(p) for p in ["Hi", "Hey", "Hi"]))
    assert both == [want, chat.invoke("Hey").content, want]


async def test_async_stream_closed_early_stops_decoding(tiny_lm):
    """Closing the stream (what LangChain does once its caller stops reading) ends decoding in
    the worker thread, so the model's lock is free before the close returns."""
    long = ChatEngram(lm=tiny_lm, max_tokens=200)
    assert len(long.invoke("Hello there").content) > 20  # a reply long enough to cut short
    async with aclosing(long._astream([HumanMessage("Hello there")])) as stream:
        async for _ in stream:
            break
    assert tiny_lm._lock.acquire(blocking=False)  # no thread is still decoding
    tiny_lm._lock.release()


def test_stop_cuts_the_reply(chat):
    text = ChatEngram(lm=chat.lm, max_tokens=12).invoke("Hello").content
    cut = text[len(text) // 2 :].strip()[:2]
    assert cut
    assert cut not in chat.bind(max_tokens=12).invoke("Hello", stop=[cut]).content


def test_messages_conversion_round_trips_tool_calls():
    call = {"name": "magic_function", "args": {"input": 3}, "id": "c1"}
    msgs = to_engram_messages(
        [
            SystemMessage("Be brief."),
            HumanMessage("magic 3?"),
            AIMessage("", tool_calls=[call]),
            ToolMessage("5", tool_call_id="c1", name="magic_function"),
        ]
    )
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool"]
    assert msgs[2]["content"] == (
        '<tool_call>\n{"name": "magic_function", "arguments": {"input": 3}}\n</tool_call>'
    )
    assert msgs[3]["content"] == '<tool_response name="magic_function">\n5\n</tool_response>'


def test_forced_call_without_arguments_needs_no_generation(chat):
    reply = chat.bind_tools([ping], tool_choice="ping").invoke("Is it up?")
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [("ping", {})]
    assert reply.usage_metadata["output_tokens"] == 0
    streamed = list(chat.bind_tools([ping], tool_choice="any").stream("Is it up?"))
    assert len(streamed) == 1 and streamed[0].tool_calls[0]["name"] == "ping"
    assert chat.with_structured_output(Flag).invoke("Raise the flag") == Flag()


def test_forced_call_names_the_tool(chat):
    # the reply is forced to start with the call, so even a tiny random model's reply parses
    # as a call to that tool (its arguments are junk, so it may be reported invalid)
    reply = chat.bind_tools([magic_function], tool_choice="any").invoke("magic_function(3)?")
    calls = reply.tool_calls + reply.invalid_tool_calls
    assert [c["name"] for c in calls] == ["magic_function"]


def test_tool_choice_none_offers_no_tools(chat):
    bound = chat.bind_tools([magic_function], tool_choice="none")
    assert bound.invoke("hi").tool_calls == []


def test_bad_input_fails_clearly(chat):
    with pytest.raises(ValueError, match="names no bound tool"):
        chat.bind_tools([magic_function], tool_choice="other")
    with pytest.raises(ValueError, match="text only"):
        chat.invoke([HumanMessage(content=[{"type": "image", "url": "http://x/y.png"}])])
    with pytest.raises(ValueError, match="unknown arguments"):
        chat.invoke("hi", frequency_penalty=1)
    with pytest.raises(ValueError, match="max_new_tokens"):
        chat.invoke("hi", max_tokens=0)


def test_user_memory_is_loaded_per_call(chat, tiny_lm):
    ChatEngram(lm=tiny_lm, user_id="ana", max_tokens=2).invoke("hi")
    assert tiny_lm.user_id == "ana"
    chat.invoke("hi")  # no user: the shared tables only
    assert tiny_lm.user_id is None
    chat.invoke("hi", user_id="bob")
    assert tiny_lm.user_id == "bob"


def test_the_memory_weights_are_identifying_params(tiny_lm):
    """LangChain caches replies by these: other weights give other replies."""
    a = ChatEngram(lm=tiny_lm)._identifying_params
    b = ChatEngram(lm=tiny_lm, memory_weight=0.0, tables_weight=1.0)._identifying_params
    assert (a["memory_weight"], a["tables_weight"]) == (0.5, 0.5)
    assert (b["memory_weight"], b["tables_weight"]) == (0.0, 1.0)
