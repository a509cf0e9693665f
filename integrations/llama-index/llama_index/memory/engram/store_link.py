"""What `EngramMemory` and `EngramMemoryBlock` share: the episodic store they write to, the scope
they write under, and how LlamaIndex chat messages become engrams and recalls become prompt text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.bridge.pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
)

from engram_agents import ConsentError, InvalidInputError
from engram_agents import EngramMemory as CoreMemory
from engram_agents.chat import (
    HEADER,
    MAX_CHARS,
    MAX_K,
    CheckedId,
    Engram,
    RecallHit,
    RecallK,
    format_memories,
    redact,
)

ROLES = tuple(role.value for role in MessageRole)


class EngramStoreLink(BaseModel):
    """Fields and helpers for a LlamaIndex memory backed by an engram-agents episodic store."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: CoreMemory = Field(
        exclude=True, description="The engram-agents episodic store (engram_agents.EngramMemory)."
    )
    user_id: CheckedId = Field(description="Whose memories these are.")
    agent_id: CheckedId | None = Field(default=None, description="Agent that wrote the memories.")
    session_id: CheckedId | None = Field(
        default=None, description="Session new memories belong to."
    )
    k: RecallK = Field(default=5, description="How many memories to recall per turn.")
    min_score: float | None = Field(
        default=None, description="Leave out recalled memories scoring below this."
    )
    remember_roles: tuple[str, ...] = Field(
        default=(MessageRole.USER.value,),
        description="Messages of these roles are remembered long-term.",
    )
    header: str = Field(default=HEADER, description="First line of the recalled-memory text.")
    max_chars: int = Field(default=MAX_CHARS, ge=1, description="Size cap of that text.")
    # the latest recall's query and the hits put in the prompt, until a reply is observed
    _recalled: tuple[str, list[RecallHit]] | None = PrivateAttr(default=None)

    @field_validator("remember_roles", mode="before")
    @classmethod
    def _known_roles(cls, value: Any) -> tuple[str, ...]:
        roles = (value,) if isinstance(value, str | MessageRole) else tuple(value)
        names = tuple(r.value if isinstance(r, MessageRole) else r for r in roles)
        unknown = [r for r in names if r not in ROLES]
        if unknown:
            raise InvalidInputError(
                f"remember_roles: unknown roles {unknown}; known roles are {ROLES}"
            )
        return names

    # -- write ------------------------------------------------------------------------
    def remember_messages(self, messages: Sequence[ChatMessage]) -> list[Engram]:
        """Remember the text of those messages whose role is in `remember_roles` (none when the
        user switched persistent memory off)."""
        items = self._items(messages)
        if not items:
            return []
        try:
            return self.store.remember(items, **self._scope(messages))
        except ConsentError:
            return []

    async def aremember_messages(self, messages: Sequence[ChatMessage]) -> list[Engram]:
        items = self._items(messages)
        if not items:
            return []
        try:
            return await self.store.aremember(items, **self._scope(messages))
        except ConsentError:
            return []

    def _items(self, messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
        """Checks every message first, so bad input raises before anything is written."""
        items = []
        for message in message_list(messages):
            text = message.content
            if message.role.value in self.remember_roles and text and text.strip():
                items.append({"role": message.role.value, "content": text})
        return items

    def _scope(self, messages: Sequence[ChatMessage]) -> dict[str, Any]:
        # Memory.aput stamps flushed messages with its session id; use it when none is set here.
        stamped = (m.additional_kwargs.get("session_id") for m in messages)
        session = self.session_id or next((s for s in stamped if s), None)
        return {"user_id": self.user_id, "agent_id": self.agent_id, "session_id": session}

    # -- read -------------------------------------------------------------------------
    def recall_text(self, shown: Sequence[ChatMessage], input: Any = None) -> str:
        """Memories for the input (else the latest user message) as system-prompt text, leaving
        out what `shown` (the messages already in the prompt) says anyway; "" for none."""
        query = recall_query(shown, input)
        hits = self.store.recall(query, self.user_id, k=self._wanted(shown)) if query else []
        return self._format(query, hits, shown)

    async def arecall_text(self, shown: Sequence[ChatMessage], input: Any = None) -> str:
        query = recall_query(shown, input)
        hits = await self.store.arecall(query, self.user_id, k=self._wanted(shown)) if query else []
        return self._format(query, hits, shown)

    def _wanted(self, shown: Sequence[ChatMessage]) -> int:
        """k, plus one for each shown message that may come back as its own echo."""
        return min(MAX_K, self.k + sum(m.role.value in self.remember_roles for m in shown))

    def _format(
        self, query: str | None, hits: Sequence[RecallHit], shown: Sequence[ChatMessage]
    ) -> str:
        echoes = set()
        for message in shown:
            if message.content:
                text = f"{message.role.value}: {message.content}"
                echoes |= {text, redact(text)[0]}
        kept = [
            h
            for h in hits
            if h.engram.text not in echoes and (self.min_score is None or h.score >= self.min_score)
        ][: self.k]
        self._recalled = (query, kept) if query and kept else None
        return format_memories(kept, header=self.header, max_chars=self.max_chars)


def message_list(messages: Any) -> list[ChatMessage]:
    """`messages` as a list, or InvalidInputError naming what is not a ChatMessage."""
    if isinstance(messages, ChatMessage | str) or not isinstance(messages, Sequence):
        raise InvalidInputError(
            f"expected a list of llama_index ChatMessage, got {type(messages).__name__}"
        )
    for n, message in enumerate(messages):
        if not isinstance(message, ChatMessage):
            raise InvalidInputError(
                f"message {n} must be a llama_index ChatMessage, got {type(message).__name__}"
            )
        if not isinstance(message.role, MessageRole):  # built unvalidated (model_construct)
            raise InvalidInputError(
                f"message {n} role must be one of {ROLES}, got {message.role!r}"
            )
    return list(messages)


def recall_query(messages: Sequence[ChatMessage], input: Any = None) -> str | None:
    """The text to recall for: `input` (a string or ChatMessage), else the latest user message."""
    if isinstance(input, ChatMessage):
        input = input.content
    if isinstance(input, str) and input.strip():
        return input
    if input is not None and not isinstance(input, str):
        raise InvalidInputError(
            f"input must be a string or ChatMessage, got {type(input).__name__}"
        )
    for message in reversed(messages):
        if message.role == MessageRole.USER and message.content and message.content.strip():
            return message.content
    return None
