"""Classic chain memory (langchain_classic BaseMemory) and EngramRetriever over the store."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage

from engram_agents.memory_context import HEADER
from langchain_engram import EngramChatMemory, EngramRetriever


def test_classic_memory_recalls_saved_turns(core_memory):
    memory = EngramChatMemory(memory=core_memory, user_id="ana", session_id="s1")
    assert memory.memory_variables == ["history"]
    assert memory.load_memory_variables({"input": "anything"}) == {"history": ""}
    memory.save_context({"input": "I adopted a greyhound called Pixel"}, {"output": "Lovely!"})
    memory.save_context({"input": "Tax forms are due Friday"}, {"output": AIMessage("Noted.")})
    block = memory.load_memory_variables({"input": "what is my greyhound called?"})["history"]
    lines = block.splitlines()
    assert lines[0] == HEADER and "user: I adopted a greyhound called Pixel" in lines[-1]
    assert any("assistant: Noted." in line for line in lines)
    # another session of the same user still recalls it; another user does not
    other_session = EngramChatMemory(memory=core_memory, user_id="ana", session_id="s2", k=1)
    assert "Pixel" in other_session.load_memory_variables({"q": "greyhound Pixel"})["history"]
    assert EngramChatMemory(memory=core_memory, user_id="bob").load_memory_variables(
        {"input": "greyhound"}
    ) == {"history": ""}
    other_session.save_context({"input": "Standup moved to 9:30"}, {"output": "ok"})
    memory.clear()  # this session only
    assert [e.text for e in core_memory.list("ana")] == [
        "user: Standup moved to 9:30",
        "assistant: ok",
    ]


async def test_classic_memory_async(core_memory):
    memory = EngramChatMemory(memory=core_memory, user_id="ana", memory_key="memories")
    await memory.asave_context({"input": "My sister is Priyanka"}, {"output": "Nice"})
    got = await memory.aload_memory_variables({"input": "sister"})
    assert "My sister is Priyanka" in got["memories"]
    await memory.aclear()
    assert core_memory.list("ana") == []


def test_classic_memory_bad_input(core_memory):
    memory = EngramChatMemory(memory=core_memory, user_id="ana")
    with pytest.raises(ValueError, match="set input_key"):
        memory.load_memory_variables({"a": "x", "b": "y"})
    with pytest.raises(ValueError, match="non-empty text"):
        memory.save_context({"input": "  "}, {"output": "x"})
    with pytest.raises(ValueError, match="output key 'answer' is missing"):
        EngramChatMemory(memory=core_memory, user_id="ana", output_key="answer").save_context(
            {"input": "hi"}, {"text": "x"}
        )
    assert core_memory.list("ana") == []  # nothing half-written


@pytest.fixture
def filled(core_memory):
    core_memory.remember(
        "My dentist appointment is on 5 June", "ana", session_id="s1", event_time="2024-05-01"
    )
    core_memory.remember("I adopted a greyhound called Pixel", "ana", session_id="s2")
    core_memory.remember("Bob's dentist is Dr Lee", "bob")
    return core_memory


def test_retriever_documents(filled):
    retriever = EngramRetriever(memory=filled, user_id="ana", k=2)
    docs = retriever.invoke("when is my dentist appointment?")
    assert all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert top.page_content == "My dentist appointment is on 5 June"
    meta = top.metadata
    assert meta["user_id"] == "ana" and meta["session_id"] == "s1" and top.id == meta["id"]
    assert meta["event_time"].startswith("2024-05-01") and meta["tier"] == "short"
    assert "kw:dentist" in meta["matched_tags"] and meta["score"] >= docs[-1].metadata["score"]
    assert all("Bob" not in d.page_content for d in docs)
    only_s2 = retriever.invoke("dentist", session_id="s2")
    assert [d.page_content for d in only_s2] == ["I adopted a greyhound called Pixel"]
    assert retriever.invoke("dentist", user_id="bob")[0].page_content == "Bob's dentist is Dr Lee"


async def test_retriever_async_and_errors(filled):
    retriever = EngramRetriever(memory=filled, user_id="ana")
    docs = await retriever.ainvoke("greyhound")
    assert docs[0].page_content == "I adopted a greyhound called Pixel"
    with pytest.raises(ValueError, match="unknown arguments"):
        retriever.invoke("x", limit=3)
    with pytest.raises(ValueError, match="empty"):
        retriever.invoke("   ")


def test_classic_memory_keeps_nothing_once_the_user_switched_memory_off(core_memory):
    memory = EngramChatMemory(memory=core_memory, user_id="ana")
    memory.save_context({"input": "I adopted a greyhound called Pixel"}, {"output": "Lovely!"})
    core_memory.set_consent("ana", False)
    memory.save_context({"input": "My locker code is 4471"}, {"output": "Noted."})
    assert [e.text for e in core_memory.list("ana")] == [
        "user: I adopted a greyhound called Pixel",
        "assistant: Lovely!",
    ]
    assert "Pixel" in memory.load_memory_variables({"input": "what is my dog called?"})["history"]


def test_the_old_name_still_works_with_a_deprecation_warning(core_memory):
    import langchain_engram
    from langchain_engram import memory as memory_module

    for module in (langchain_engram, memory_module):
        with pytest.warns(DeprecationWarning, match="now EngramChatMemory"):
            old = module.EngramMemory
        assert old is EngramChatMemory
    with pytest.warns(DeprecationWarning):
        from langchain_engram import EngramMemory
    assert EngramMemory(memory=core_memory, user_id="ana").user_id == "ana"
    with pytest.raises(AttributeError, match="EngramMemroy"):
        langchain_engram.EngramMemroy  # noqa: B018
