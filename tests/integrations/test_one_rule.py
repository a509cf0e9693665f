"""One rule per input on every surface: the same bad `k` and the same bad user id are refused
with the core's `InvalidInputError` and the core's message by `EngramMemory` (in this process and
remote), the LangChain middleware, retriever and store, and the LlamaIndex memory. Pydantic
components (the retriever's fields) keep pydantic's `ValidationError`, their framework's
contract, with the core's message inside."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.runtime import Runtime
from langgraph.store.base import InvalidNamespaceError
from pydantic import ValidationError

from engram_agents import EngramMemory, InvalidInputError
from engram_agents.chat import MAX_K
from engram_agents.store.encoders import HashingEncoder
from langchain_engram import (
    EngramMemoryMiddleware,
    EngramRetriever,
    EngramStore,
    create_memory_tools,
)
from llama_index.memory.engram import EngramMemory as LlamaIndexMemory

BAD_K = [0, -1, 1001, True, 2.0, "5", None]
K_RULE = "k must be an integer between 1 and 1000"
BAD_USERS = ["", "   ", "a" * 257, "a\x00b", 5]
USER_RULE = (
    r"(user_id|\(the user id\)) (must be a non-empty string|is longer than 256|contains a NUL)"
)
NO_USER = "needs a user id"  # a run reads "" as no user given


def _retriever(memory: EngramMemory, **fields: Any) -> EngramRetriever:
    return EngramRetriever(memory=memory, **{"user_id": "ana", **fields})


def _store(tmp: Path, **options: Any) -> EngramStore:
    """An EngramStore over its own SQLite file (one that keeps items apart): the store checks
    ids itself, before it calls any memory, in this process or remote alike."""
    return EngramStore(tmp / "items.db", encoder=HashingEncoder(256), **options)


K_SURFACES: dict[str, Callable[[EngramMemory, Any, Path], Any]] = {
    "core recall": lambda m, k, tmp: m.recall("tea", "ana", k=k),
    "middleware": lambda m, k, tmp: EngramMemoryMiddleware(m, user_id="ana", k=k),
    "retriever call": lambda m, k, tmp: _retriever(m).invoke("tea", k=k),
    "llamaindex memory": lambda m, k, tmp: LlamaIndexMemory.from_defaults(
        user_id="ana", store=m, k=k
    ),
}
USER_SURFACES: dict[str, Callable[[EngramMemory, Any, Path], Any]] = {
    "core recall": lambda m, u, tmp: m.recall("tea", u),
    "core remember": lambda m, u, tmp: m.remember("I like tea", u),
    "middleware setting": lambda m, u, tmp: EngramMemoryMiddleware(m, user_id=u),
    "middleware runtime": lambda m, u, tmp: EngramMemoryMiddleware(m).resolve_user(
        Runtime(context={"user_id": u})
    ),
    "retriever call": lambda m, u, tmp: _retriever(m).invoke("tea", user_id=u),
    "memory tools": lambda m, u, tmp: create_memory_tools(m, user_id=u)[1].invoke({"content": "x"}),
    "store setting": lambda m, u, tmp: _store(tmp, user_id=u),
    "store namespace": lambda m, u, tmp: _store(tmp).put((u, "memories"), "k", {"v": 1}),
    "llamaindex memory": lambda m, u, tmp: LlamaIndexMemory.from_defaults(user_id=u, store=m),
}


@pytest.mark.parametrize("k", BAD_K, ids=repr)
@pytest.mark.parametrize("surface", K_SURFACES)
def test_one_k_rule(local_and_remote: EngramMemory, surface: str, k: Any, tmp_path: Path) -> None:
    local_and_remote.remember("I like tea", "ana")
    with pytest.raises(InvalidInputError, match=K_RULE):
        K_SURFACES[surface](local_and_remote, k, tmp_path)


@pytest.mark.parametrize("user", BAD_USERS, ids=repr)
@pytest.mark.parametrize("surface", USER_SURFACES)
def test_one_user_id_rule(
    local_and_remote: EngramMemory, surface: str, user: Any, tmp_path: Path
) -> None:
    error, rule = InvalidInputError, USER_RULE
    if surface in ("middleware runtime", "memory tools") and user == "":
        rule = NO_USER
    if surface == "store namespace":  # LangGraph's contract; its own checks come first
        error, rule = InvalidNamespaceError, f"{USER_RULE}|Namespace labels"
    with pytest.raises(error, match=rule):
        USER_SURFACES[surface](local_and_remote, user, tmp_path)


@pytest.mark.parametrize("k", BAD_K, ids=repr)
def test_pydantic_settings_keep_pydantic_error_with_the_core_rule(
    local_and_remote: EngramMemory, k: Any
) -> None:
    with pytest.raises(ValidationError, match=K_RULE):
        _retriever(local_and_remote, k=k)
    with pytest.raises(ValidationError, match=USER_RULE):
        _retriever(local_and_remote, user_id=" ")


def test_every_surface_takes_the_largest_k(local_and_remote: EngramMemory) -> None:
    """The upper bound is the core's MAX_K everywhere (the LlamaIndex memory capped k at 100)."""
    local_and_remote.remember("I like tea", "ana")
    assert len(local_and_remote.recall("tea", "ana", k=MAX_K)) == 1
    assert len(_retriever(local_and_remote, k=MAX_K).invoke("tea")) == 1
    assert EngramMemoryMiddleware(local_and_remote, k=MAX_K).k == MAX_K
    llama = LlamaIndexMemory.from_defaults(user_id="ana", store=local_and_remote, k=MAX_K)
    assert "I like tea" in llama.get(input="tea")[0].content
