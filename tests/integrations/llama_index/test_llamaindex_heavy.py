"""The embedded SmolLM2-135M-Instruct behind a real chat engine and agent, over two sessions: the
answer in the second comes from the memory the first left (another user's session has none)."""

from __future__ import annotations

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.chat_engine import SimpleChatEngine

from llama_index.llms.engram import Engram
from llama_index.memory.engram import EngramMemory

pytestmark = pytest.mark.heavy
FACT, QUESTION = "My dog is a greyhound called Pixel.", "What is my dog called?"


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    return Engram(max_new_tokens=24, storage_dir=str(tmp_path_factory.mktemp("users")))


def test_chat_engine_second_session_answers_from_the_first(store, llm):
    def chat(user_id: str, session_id: str, text: str) -> str:
        memory = EngramMemory.from_defaults(user_id, store, session_id=session_id, llm=llm)
        return str(SimpleChatEngine.from_defaults(llm=llm, memory=memory).chat(text))

    chat("ana", "mon", FACT)
    assert "Pixel" in chat("ana", "tue", QUESTION)
    assert "Pixel" not in chat("bob", "tue", QUESTION)


async def test_agent_second_session_answers_from_the_first(store, llm):
    agent = FunctionAgent(llm=llm)

    async def run(user_id: str, session_id: str, text: str) -> str:
        memory = EngramMemory.from_defaults(user_id, store, session_id=session_id, llm=llm)
        return str(await agent.run(text, memory=memory))

    await run("ana", "mon", FACT)
    assert "Pixel" in await run("ana", "tue", QUESTION)
    assert "Pixel" not in await run("bob", "tue", QUESTION)
