"""EngramMemoryBlock: long-term recall as a memory block of LlamaIndex's `Memory`."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import Field
from llama_index.core.memory.memory import BaseMemoryBlock

from llama_index.memory.engram.store_link import EngramStoreLink


class EngramMemoryBlock(EngramStoreLink, BaseMemoryBlock[str]):
    """Messages `Memory` flushes from its short-term queue are remembered in the episodic store
    (those whose role is in `remember_roles`); each `get` recalls engrams for the latest user
    message and `Memory` puts them in its memory block text.

    >>> block = EngramMemoryBlock(store=store, user_id="ana")
    >>> memory = Memory.from_defaults(session_id="s1", memory_blocks=[block])
    """

    name: str = Field(default="engram_memory", description="The memory block's name.")

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        return await self.arecall_text(messages or [])

    async def _aput(self, messages: list[ChatMessage]) -> None:
        await self.aremember_messages(messages)
