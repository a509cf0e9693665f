"""The embedded SmolLM2-135M-Instruct behind a real chat engine, over two sessions: the answer in
the second comes from the memory the first left (another user's session has none)."""

from __future__ import annotations

import pytest
from llama_index.core.chat_engine import SimpleChatEngine

from llama_index.llms.engram import Engram
from llama_index.memory.engram import EngramMemory

pytestmark = pytest.mark.heavy


def test_second_session_answers_from_the_first(store, tmp_path):
    llm = Engram(max_new_tokens=24, storage_dir=str(tmp_path))

    def chat(user_id: str, session_id: str, text: str) -> str:
        memory = EngramMemory.from_defaults(user_id, store, session_id=session_id, llm=llm)
        return str(SimpleChatEngine.from_defaults(llm=llm, memory=memory).chat(text))

    chat("ana", "mon", "My dog is a greyhound called Pixel.")
    assert "Pixel" in chat("ana", "tue", "What is my dog called?")
    assert "Pixel" not in chat("bob", "tue", "What is my dog called?")
