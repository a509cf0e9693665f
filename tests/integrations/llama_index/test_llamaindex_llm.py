"""The Engram LLM on a tiny random model: mechanics (its words are gibberish, its behaviour is
not) and tool calls parsed from model text."""

from __future__ import annotations

import json

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ImageBlock, TextBlock, ToolCallBlock
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool
from pydantic import ValidationError

from engram_agents.errors import InvalidInputError
from engram_agents.tool_calls import ToolSpec
from llama_index.llms.engram import Engram
from llama_index.llms.engram.base import prompt_messages, reply, to_engram_messages
from llama_index.memory.engram import EngramMemory

HI = [ChatMessage(role="user", content="Say hello to Ana")]


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


ADD = FunctionTool.from_defaults(add)
ADD_SPEC = ToolSpec("add", ADD.metadata.description, ADD.metadata.get_parameters_dict())


@pytest.fixture
def llm(tiny_lm):
    return Engram(lm=tiny_lm, max_new_tokens=6)


def test_metadata(llm, tiny_dirs):
    meta = llm.metadata
    assert meta.is_function_calling_model and meta.is_chat_model
    assert meta.context_window == 2048  # the tiny Llama's max_position_embeddings
    assert meta.num_output == 6
    assert meta.model_name == tiny_dirs["llama"].name
    assert Engram(lm=llm.lm, context_window=512).metadata.context_window == 512
    # the embedded default is named without loading it
    assert Engram(context_window=2048).metadata.model_name == "SmolLM2-135M-Instruct"


async def test_chat_complete_stream_and_async_agree(llm, tiny_lm):
    expected = tiny_lm.chat([{"role": "user", "content": "Say hello to Ana"}], max_new_tokens=6)
    assert expected  # the tiny model says something (greedy, so always the same)

    response = llm.chat(HI)
    assert response.message.role == "assistant"
    assert response.message.content == expected
    assert llm.complete("Say hello to Ana").text == expected

    chunks = list(llm.stream_chat(HI))
    assert len(chunks) > 1 and "".join(c.delta for c in chunks) == expected
    assert chunks[-1].message.content == expected
    assert "".join(c.delta for c in llm.stream_complete("Say hello to Ana")) == expected

    assert (await llm.achat(HI)).message.content == expected
    assert (await llm.acomplete("Say hello to Ana")).text == expected
    deltas = [c.delta async for c in await llm.astream_chat(HI)]
    assert "".join(deltas) == expected and len(deltas) == len(chunks)
    assert "".join([c.delta async for c in await llm.astream_complete("Say hello to Ana")]) == (
        expected
    )


async def test_async_stream_stopped_early_frees_the_model(llm):
    stream = await llm.astream_chat(HI)
    async for _ in stream:
        break
    await stream.aclose()
    assert llm.chat(HI).message.content  # the model's lock was released


def test_sampling_arguments(llm, tiny_lm):
    short = llm.chat(HI, max_new_tokens=1).message.content
    assert short and len(tiny_lm.tokenizer.encode(short, add_special_tokens=False)) <= 1
    sampled = Engram(lm=tiny_lm, max_new_tokens=6, temperature=1.0, seed=3)
    assert sampled.chat(HI).message.content == sampled.chat(HI).message.content
    with pytest.raises(ValueError, match=r"unknown arguments \['max_tokenz'\]"):
        llm.chat(HI, max_tokenz=3)
    with pytest.raises(ValidationError):
        Engram(lm=tiny_lm, top_p=0)


def test_user_memory_is_loaded_for_the_llm_user(tiny_lm):
    Engram(lm=tiny_lm, user_id="ana", max_new_tokens=1).chat(HI)
    assert tiny_lm.user_id == "ana"
    Engram(lm=tiny_lm, max_new_tokens=1).chat(HI)
    assert tiny_lm.user_id is None  # shared tables only: no other user's facts leak in


def test_bad_messages(llm):
    with pytest.raises(ValueError, match="non-empty list"):
        llm.chat([])
    with pytest.raises(ValueError, match="message 1 must be a ChatMessage"):
        llm.chat([*HI, {"role": "user", "content": "x"}])  # type: ignore[list-item]
    image = ChatMessage(role="user", blocks=[ImageBlock(url="http://example.com/cat.png")])
    with pytest.raises(ValueError, match="message 0: Engram reads text only, got a image block"):
        llm.chat([image])


def test_history_renders_tool_calls_and_results():
    call = ToolCallBlock(tool_call_id="c1", tool_name="add", tool_kwargs={"a": 2, "b": 3})
    messages = [
        ChatMessage(role="system", content="Be exact."),
        ChatMessage(role="user", content="What is 2 + 3?"),
        ChatMessage(role="assistant", blocks=[TextBlock(text="Let me add."), call]),
        ChatMessage(role="tool", content="5", additional_kwargs={"tool_call_id": "c1"}),
    ]
    system, question, assistant, result = prompt_messages(messages, [ADD_SPEC])
    assert system["role"] == "system"
    assert system["content"].startswith("Be exact.\n\n") and '"add"' in system["content"]
    assert question == {"role": "user", "content": "What is 2 + 3?"}
    assert assistant["content"].startswith("Let me add.\n<tool_call>")
    assert '{"name": "add", "arguments": {"a": 2, "b": 3}}' in assistant["content"]
    assert result == {"role": "tool", "content": '<tool_response name="add">\n5\n</tool_response>'}
    assert to_engram_messages(messages[:1]) == [{"role": "system", "content": "Be exact."}]


def test_tool_calls_are_parsed_from_model_text(llm):
    text = 'Sure.\n<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>'
    response = reply(text, [ADD_SPEC])
    assert response.message.content == "Sure."
    (selection,) = llm.get_tool_calls_from_response(response)
    assert (selection.tool_name, selection.tool_kwargs) == ("add", {"a": 2, "b": 3})
    assert selection.tool_id.startswith("call_")

    two = reply(text + text.removeprefix("Sure.\n"), [ADD_SPEC])
    assert len(llm.get_tool_calls_from_response(two)) == 2
    single = llm._validate_chat_with_tools_response(two, [ADD], allow_parallel_tool_calls=False)
    assert len(llm.get_tool_calls_from_response(single)) == 1


def test_unusable_tool_calls_are_reported(llm):
    response = reply('<tool_call>{"name": "subtract", "arguments": {}}</tool_call>', [ADD_SPEC])
    assert response.additional_kwargs["invalid_tool_calls"][0]["error"] == "unknown tool 'subtract'"
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="unknown tool 'subtract'"):
        llm.get_tool_calls_from_response(response)
    plain = reply("No tools needed.", [ADD_SPEC])
    assert plain.message.content == "No tools needed." and not plain.additional_kwargs


def test_chat_with_tools_offers_the_tools(llm, tiny_lm):
    response = llm.chat_with_tools([ADD], user_msg="What is 2 + 3?", tool_required=True)
    question = [ChatMessage(role="user", content="What is 2 + 3?")]
    offered = tiny_lm.chat(prompt_messages(question, [ADD_SPEC], "required"), max_new_tokens=6)
    assert response.raw == offered  # the model saw the tool listing with the "must call" rule
    assert prompt_messages(question, [ADD_SPEC], "required") != prompt_messages(
        question, [ADD_SPEC]
    )
    assert (
        llm.chat_with_tools([ADD], user_msg="hi", tool_choice="none").raw
        == llm.chat([ChatMessage(role="user", content="hi")]).message.content
    )
    with pytest.raises(InvalidInputError, match="names no bound tool"):
        llm.chat_with_tools([ADD], user_msg="hi", tool_choice="subtract")


async def test_function_agent_runs_on_engram_with_engram_memory(llm, store):
    memory = EngramMemory.from_defaults("ana", store, llm=llm)
    agent = FunctionAgent(tools=[ADD], llm=llm)
    handler = agent.run("What is 2 + 3? My name is Ana.", memory=memory)
    streamed = [ev.delta async for ev in handler.stream_events() if hasattr(ev, "delta")]
    result = await handler
    assert str(result) == "".join(streamed)  # whatever the tiny model said, it streamed it
    assert [e.text for e in store.list("ana")] == ["user: What is 2 + 3? My name is Ana."]
    assert [m.role for m in await memory.aget_all()] == ["user", "assistant"]
    assert json.dumps(llm.to_dict())  # config serializes; the loaded model is left out
