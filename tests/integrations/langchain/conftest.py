"""Fixtures for the LangChain integration: a store with a fast hashing encoder (no downloads),
in this process and on a server,
a recorder of what chat models receive, and a scripted fake chat model for agent loops. Tiny
random models come from tests/conftest.py; ChatEngram() shares one real model per process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage

from engram_agents import EngramMemory
from engram_agents.store.encoders import HashingEncoder
from langchain_engram import EngramStore
from langchain_engram.stores import ITEM_CONFIG


@pytest.fixture
def core_memory(local_and_remote: EngramMemory) -> EngramMemory:
    """In this process, then on a server (see tests/conftest.py)."""
    return local_and_remote


@pytest.fixture(params=["local", "remote"])
def new_store(request, tmp_path: Path) -> Callable[..., EngramStore]:
    """`new_store(**options)`: an empty `EngramStore` over a SQLite file, and over
    `EngramMemory.remote` to a server serving `ITEM_CONFIG` (a fresh tenant each call)."""
    made: list[int] = []

    def make(**options: Any) -> EngramStore:
        made.append(1)
        if request.param == "remote":
            memory = request.getfixturevalue("connect_remote")(ITEM_CONFIG)
            return EngramStore(memory=memory, **options)
        path = tmp_path / f"store{len(made)}.db"
        return EngramStore(path, encoder=HashingEncoder(256), **options)

    return make


class PromptRecorder(BaseCallbackHandler):
    """Records the messages every chat model call received (real LangChain callbacks)."""

    def __init__(self) -> None:
        self.calls: list[list[BaseMessage]] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.calls.extend(messages)

    def system_prompts(self) -> list[str]:
        return [m.text for call in self.calls for m in call if m.type == "system"]

    def questions(self) -> list[str]:
        """The latest user message of each call, as the model was given it."""
        return [next(m.text for m in reversed(call) if m.type == "human") for call in self.calls]


@pytest.fixture
def recorder() -> PromptRecorder:
    return PromptRecorder()


class ScriptedChat(FakeMessagesListChatModel):
    """langchain-core's fake chat model replaying scripted replies; accepts tools (ignoring
    them) so `create_agent` can bind its tools, which the core fake does not allow."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChat:
        return self


@pytest.fixture
def scripted():
    """`scripted(reply, ...)`: a fake chat model; a reply is text or (tool name, args)."""

    def make(*replies: str | tuple[str, dict[str, Any]]) -> ScriptedChat:
        messages = [
            AIMessage(r)
            if isinstance(r, str)
            else AIMessage("", tool_calls=[{"name": r[0], "args": r[1], "id": f"call-{n}"}])
            for n, r in enumerate(replies)
        ]
        return ScriptedChat(responses=messages)

    return make
