"""EngramMemory: LlamaIndex chat memory with long-term recall from an engram-agents store."""

from __future__ import annotations

import os
from typing import Any, Literal

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
from llama_index.core.bridge.pydantic import Field, SerializeAsAny, ValidationError
from llama_index.core.llms.llm import LLM
from llama_index.core.memory import Memory
from llama_index.core.memory.types import BaseMemory

# the core class; in this package EngramMemory is LlamaIndex's memory over it
from engram_agents import EngramMemory as CoreMemory
from engram_agents import InvalidInputError
from engram_agents.chat import describe
from llama_index.memory.engram.recalled import RecalledTextBlock
from llama_index.memory.engram.store_link import EngramStoreLink, message_list

DEFAULT_TOKEN_LIMIT = 3000
TOKEN_LIMIT_RATIO = 0.75


class EngramMemory(EngramStoreLink, BaseMemory):
    """Recent chat history plus what earlier sessions said, for chat engines and agents.

    `get` returns the short-term history (kept by `primary_memory`, a LlamaIndex `Memory` by
    default) with the engrams recalled for the current input (or, without one, the latest user
    message) put before the latest user message, where small models read them best
    (`placement="system"`: in a leading system message). `put` adds to the history and
    remembers the text of messages whose role is in `remember_roles` (the user's, by default) in
    the episodic store, scoped by `user_id`, so any later session of that user can recall it.
    An assistant message put after a recall tells the store which recalled memories it used
    (`observe_replies`, on by default: `EngramMemory.observe_reply`), so recall learns from use.
    `reset` clears only the short-term history; forget long-term memories through `store`
    (`store.forget(user_id, ...)`).

    >>> memory = EngramMemory.from_defaults(user_id="ana", path="memory.db")
    >>> engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory)
    """

    primary_memory: SerializeAsAny[BaseMemory] = Field(
        default_factory=Memory.from_defaults,
        description="Short-term chat history (any LlamaIndex memory).",
    )
    observe_replies: bool = Field(
        default=True,
        description="Tell the store which recalled memories the assistant's next message used "
        "(engram_agents.EngramMemory.observe_reply), so recall learns from use.",
    )
    placement: Literal["question", "system"] = Field(
        default="question",
        description="Where recalled memories go: before the latest user message, or in the "
        "system message.",
    )

    @classmethod
    def class_name(cls) -> str:
        return "EngramMemory"

    @classmethod
    def from_defaults(  # type: ignore[override]
        cls,
        user_id: str,
        store: CoreMemory | None = None,
        *,
        path: str | os.PathLike | None = None,
        encoder: Any = None,
        chat_history: list[ChatMessage] | None = None,
        primary_memory: BaseMemory | None = None,
        llm: LLM | None = None,
        token_limit: int | None = None,
        **kwargs: Any,
    ) -> EngramMemory:
        """A memory for `user_id` over `store`, or over a SQLite store at `path` (default: the
        user data directory) with `encoder` (default: the embedded all-MiniLM-L6-v2).

        The short-term history is `primary_memory`, else a `Memory` holding `token_limit` tokens
        (default: 3/4 of `llm`'s context window, or 3000). `chat_history` starts it (and is
        remembered like `set`). Other keyword arguments set fields (`agent_id`, `session_id`,
        `k`, `min_score`, `remember_roles`, `header`, `max_chars`, `placement`). A bad setting
        raises InvalidInputError naming it (the constructor itself raises pydantic's
        ValidationError, as every LlamaIndex component does).
        """
        if store is None:
            store = CoreMemory(path, encoder=encoder)
        elif path is not None or encoder is not None:
            raise InvalidInputError("pass either store or path/encoder, not both")
        if primary_memory is None:
            if token_limit is None:
                token_limit = (
                    int(llm.metadata.context_window * TOKEN_LIMIT_RATIO)
                    if llm is not None
                    else DEFAULT_TOKEN_LIMIT
                )
            primary_memory = Memory.from_defaults(
                session_id=kwargs.get("session_id"), token_limit=token_limit
            )
        try:
            memory = cls(store=store, user_id=user_id, primary_memory=primary_memory, **kwargs)
        except ValidationError as exc:
            raise InvalidInputError(f"bad EngramMemory setting: {describe(exc)}") from exc
        if chat_history:
            memory.set(chat_history)
        return memory

    # -- read -------------------------------------------------------------------------
    def get(self, input: str | None = None, **kwargs: Any) -> list[ChatMessage]:
        history = self.primary_memory.get(input=input, **kwargs)
        return with_memories(history, self.recall_text(history, input), self.placement)

    async def aget(self, input: str | None = None, **kwargs: Any) -> list[ChatMessage]:
        history = await self.primary_memory.aget(input=input, **kwargs)
        return with_memories(history, await self.arecall_text(history, input), self.placement)

    def get_all(self) -> list[ChatMessage]:
        return self.primary_memory.get_all()

    async def aget_all(self) -> list[ChatMessage]:
        return await self.primary_memory.aget_all()

    # -- write: remember first, so a message the store rejects leaves both unchanged ------
    def put(self, message: ChatMessage) -> None:
        self.put_messages([message])

    async def aput(self, message: ChatMessage) -> None:
        await self.aput_messages([message])

    def put_messages(self, messages: list[ChatMessage]) -> None:
        self.remember_messages(messages)
        if observed := self._reply_to_recall(messages):
            self.store.observe_reply(observed[0], self.user_id, observed[2], query=observed[1])
        if messages:  # LlamaIndex's Memory fails on an empty list (a SQL NOT NULL error)
            self.primary_memory.put_messages(messages)

    async def aput_messages(self, messages: list[ChatMessage]) -> None:
        await self.aremember_messages(messages)
        if observed := self._reply_to_recall(messages):
            reply, query, hits = observed
            await self.store.aobserve_reply(reply, self.user_id, hits, query=query)
        if messages:
            await self.primary_memory.aput_messages(messages)

    def _reply_to_recall(self, messages: list[ChatMessage]) -> tuple[str, str, list] | None:
        """(the assistant's reply, the query, the hits) when `messages` answer the latest
        recall: each recall is observed once, with the first reply after it."""
        said = [m.content for m in message_list(messages) if m.role == MessageRole.ASSISTANT]
        reply = "\n".join(t for t in said if t and t.strip())
        if not (self.observe_replies and reply and self._recalled):
            return None
        (query, hits), self._recalled = self._recalled, None
        return reply, query, hits

    def set(self, messages: list[ChatMessage]) -> None:
        """Replace the short-term history; messages it did not hold yet are remembered."""
        held = self.get_all()
        self.remember_messages([m for m in message_list(messages) if m not in held])
        self.primary_memory.set(messages)

    async def aset(self, messages: list[ChatMessage]) -> None:
        held = await self.aget_all()
        await self.aremember_messages([m for m in message_list(messages) if m not in held])
        await self.primary_memory.aset(messages)

    def reset(self) -> None:
        """Clear the short-term history; long-term memories stay in the store."""
        self.primary_memory.reset()

    async def areset(self) -> None:
        await self.primary_memory.areset()


def with_memories(history: list[ChatMessage], text: str, placement: str) -> list[ChatMessage]:
    """The history with the recalled-memory text before the latest user message (placement
    "question", when there is one) or leading it: merged into its leading system message, else
    as a new system message. The stored messages are never modified."""
    if not text:
        return history
    users = [i for i, m in enumerate(history) if m.role == MessageRole.USER]
    if placement == "question" and users:
        at = users[-1]
        message = history[at]
        # its own block, first; the newline makes the joined content "block, blank line, text"
        blocks = [RecalledTextBlock(text=f"{text}\n"), *message.blocks]
        return [*history[:at], message.model_copy(update={"blocks": blocks}), *history[at + 1 :]]
    recalled = RecalledTextBlock(text=text)
    if history and history[0].role == MessageRole.SYSTEM:
        first = history[0]
        others = [b for b in first.blocks if not isinstance(b, TextBlock)]
        # the newline makes the joined content "system prompt, blank line, memories"
        system = (first.content or "").strip()
        lead = [TextBlock(text=f"{first.content.rstrip()}\n")] if system else []
        blocks = [*lead, recalled, *others]
        return [first.model_copy(update={"blocks": blocks}), *history[1:]]
    return [ChatMessage(role=MessageRole.SYSTEM, blocks=[recalled]), *history]
