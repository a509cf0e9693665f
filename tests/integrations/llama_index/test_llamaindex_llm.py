"""The Engram LLM on a tiny random model: mechanics (its words are gibberish, its behaviour is
not) and tool calls parsed from model text."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ImageBlock, TextBlock, ToolCallBlock
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool
from pydantic import ValidationError

from engram_agents import Fact, TrainConfig
from engram_agents.errors import InvalidInputError
from engram_agents.tool_calls import ToolSpec, plan_reply
from llama_index.llms.engram import Engram
from llama_index.llms.engram.base import reply, to_engram_messages
from llama_index.memory.engram import EngramMemory, RecalledTextBlock

HI = [ChatMessage(role="user", content="Say hello to Ana")]
DENTIST = [ChatMessage(role="user", content="When is my dentist appointment?")]


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def search(query: str) -> str:
    """Search the notes."""
    return query


def now() -> str:
    """The time."""
    return "noon"


ADD = FunctionTool.from_defaults(add)
ADD_SPEC = ToolSpec("add", ADD.metadata.description, ADD.metadata.get_parameters_dict())
SEARCH = FunctionTool.from_defaults(search)
NOW = FunctionTool.from_defaults(now)


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


@pytest.fixture
def ana_lm(tiny_lm):
    """The tiny model with a fact written into ana's tables (a few quick steps)."""
    fact = Fact(question=DENTIST[0].content, answer="Tuesday at 3 pm")
    tiny_lm.memorize([fact], "ana", train_config=TrainConfig(epochs=2, batch_size=8, min_steps=1))
    tiny_lm.unload_user()
    return tiny_lm


def test_user_memory_is_loaded_for_the_llm_user(ana_lm):
    msgs = [{"role": "user", "content": DENTIST[0].content}]
    ana_says = ana_lm.chat(msgs, max_new_tokens=6, user_id="ana")
    shared_says = ana_lm.chat(msgs, max_new_tokens=6, user_id=None)
    assert ana_says != shared_says  # her memory changes the reply

    ana_lm.load_user("bob")  # someone else's memory is loaded: each reply loads its own
    assert (
        Engram(lm=ana_lm, user_id="ana", max_new_tokens=6).chat(DENTIST).message.content == ana_says
    )
    assert ana_lm.user_id == "ana"
    assert Engram(lm=ana_lm, max_new_tokens=6).chat(DENTIST).message.content == shared_says
    assert ana_lm.user_id is None  # shared tables only: no other user's facts leak in


async def test_threads_serving_different_users_do_not_mix_them(ana_lm):
    users = ["ana", None] * 4
    llms = [Engram(lm=ana_lm, user_id=u, max_new_tokens=6) for u in users]
    says = {
        u: ana_lm.chat(
            [{"role": "user", "content": DENTIST[0].content}], max_new_tokens=6, user_id=u
        )
        for u in set(users)
    }
    expected = [says[u] for u in users]

    def streamed(llm):
        return "".join(c.delta for c in llm.stream_chat(DENTIST))

    with ThreadPoolExecutor(len(llms)) as pool:
        assert list(pool.map(streamed, llms)) == expected
    replies = await asyncio.gather(*(llm.achat(DENTIST) for llm in llms))
    assert [r.message.content for r in replies] == expected

    async def astreamed(llm):
        return "".join([c.delta async for c in await llm.astream_chat(DENTIST)])

    assert await asyncio.gather(*(astreamed(llm) for llm in llms)) == expected


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
    system, question, assistant, result = plan_reply(
        to_engram_messages(messages), [ADD_SPEC]
    ).messages
    assert system["role"] == "system"
    assert system["content"].startswith("Be exact.\n\n") and '"add"' in system["content"]
    assert question == {"role": "user", "content": "What is 2 + 3?"}
    assert assistant["content"].startswith("Let me add.\n<tool_call>")
    assert '{"name": "add", "arguments": {"a": 2, "b": 3}}' in assistant["content"]
    assert result == {"role": "tool", "content": '<tool_response name="add">\n5\n</tool_response>'}
    assert to_engram_messages(messages[:1]) == [{"role": "system", "content": "Be exact."}]


def test_recalled_memories_are_read_but_not_keyed(llm, tiny_lm, store):
    EngramMemory.from_defaults("ana", store).put(ChatMessage(role="user", content="I love tea"))
    memory = EngramMemory.from_defaults("ana", store)
    memory.put(ChatMessage(role="user", content="What do I love?"))
    (user,) = to_engram_messages(memory.get())
    recalled, asked = user["content"]
    assert recalled["recalled"] is True and "I love tea" in recalled["text"]
    assert asked == {"text": "What do I love?", "keyed": True, "recalled": False}
    ids, mask = tiny_lm.encoder.encode([user])
    assert "I love tea" in tiny_lm.tokenizer.decode(ids)
    assert tiny_lm.tokenizer.decode([i for i, k in zip(ids, mask, strict=True) if k]) == (
        "What do I love?"
    )
    without, _ = tiny_lm.encoder.encode([user], recalled=False)
    assert without == tiny_lm.encoder.encode("What do I love?")[0]  # what memory_weight weighs

    in_system = EngramMemory.from_defaults("ana", store, placement="system")
    in_system.set([ChatMessage(role="system", content="Be brief."), *memory.get_all()])
    system, question = to_engram_messages(in_system.get())
    lead, block = system["content"]
    assert lead == {"text": "Be brief.\n\n", "keyed": True, "recalled": False}
    assert block["recalled"] is True
    assert question == {"role": "user", "content": "What do I love?"}
    plain = [ChatMessage(role="user", blocks=[TextBlock(text="a"), TextBlock(text="b")])]
    assert to_engram_messages(plain) == [{"role": "user", "content": "a\nb"}]
    assert RecalledTextBlock(text="x").block_type == "text"  # any LLM reads it as text


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
    question = to_engram_messages([ChatMessage(role="user", content="What is 2 + 3?")])
    plan = plan_reply(question, [ADD_SPEC], "required")
    offered = tiny_lm.chat(plan.messages, max_new_tokens=6, prefix=plan.prefix, stop=plan.stop)
    # the model saw the tool listing with the "must call" rule, and its reply was forced to
    # start with the call
    assert response.raw == plan.prefix + offered
    assert plan.messages != plan_reply(question, [ADD_SPEC]).messages
    assert (
        llm.chat_with_tools([ADD], user_msg="hi", tool_choice="none").raw
        == llm.chat([ChatMessage(role="user", content="hi")]).message.content
    )
    with pytest.raises(InvalidInputError, match="names no bound tool"):
        llm.chat_with_tools([ADD], user_msg="hi", tool_choice="subtract")


async def test_forced_tool_call_is_made_even_by_the_tiny_model(llm):
    """The reply starts with the call's opening, up to the first argument's value, so even
    random weights call the tool (a string argument: whatever they write is its value)."""
    response = llm.chat_with_tools([SEARCH], user_msg="Where is my dentist?", tool_required=True)
    assert response.raw.startswith('<tool_call>\n{"name": "search", "arguments": {"query": "')
    (call,) = llm.get_tool_calls_from_response(response)
    assert call.tool_name == "search" and list(call.tool_kwargs) == ["query"]
    assert call.tool_kwargs["query"]  # the model's words

    kwargs = {"user_msg": "Where is my dentist?", "tool_required": True}
    (last,) = list(llm.stream_chat_with_tools([SEARCH], **kwargs))
    assert last.raw == response.raw
    assert (await llm.achat_with_tools([SEARCH], **kwargs)).raw == response.raw
    (last,) = [r async for r in await llm.astream_chat_with_tools([SEARCH], **kwargs)]
    assert last.raw == response.raw

    # a tool named among several is the one called
    named = llm.chat_with_tools(
        [ADD, SEARCH], user_msg="Where is my dentist?", tool_choice="search"
    )
    assert [c.tool_name for c in llm.get_tool_calls_from_response(named)] == ["search"]
    # a tool without parameters: the forced opening is the whole call
    (call,) = llm.get_tool_calls_from_response(
        llm.chat_with_tools([NOW], user_msg="What time is it?", tool_required=True)
    )
    assert (call.tool_name, call.tool_kwargs) == ("now", {})


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
