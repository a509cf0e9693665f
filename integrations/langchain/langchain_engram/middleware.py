"""EngramMemoryMiddleware: long-term memory for any `create_agent` agent.

Before each model call the user's relevant memories go just before the user's latest message, or,
for a ChatEngram, into the system prompt marked recalled (`placement`); after each turn what the
user said is remembered, and which recalled memories the model's reply used is fed back to the
store as implicit feedback (`EngramMemory.observe_reply`); `end_session` consolidates the store
(and, given an EngramLM, syncs the user's statements into its tables for in-model recall). The
marks that say "recalled memory" are the core's (`engram_agents.chat.RECALLED`), the same the
LlamaIndex integration uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, Literal

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from engram_agents import ConsentError, EngramLM, InvalidInputError, TrainConfig
from engram_agents import EngramMemory as CoreMemory
from engram_agents.chat import (
    HEADER,
    RECALLED,
    ConsolidationReport,
    WeightSync,
    add_to_question,
    add_to_system_prompt,
    before_block,
    before_question,
    check_id,
    check_k,
    consolidate_into_model,
    format_memories,
)
from langchain_engram._scope import configurable, find_user
from langchain_engram.chat_models import ChatEngram


class EngramMemoryMiddleware(AgentMiddleware):
    """Episodic memory around an agent, with any chat model.

    `remember="tools"` leaves remembering to the agent (`create_memory_tools`): memories are
    still recalled before each call, but what the user says is not stored by itself.

    The user is found, in order, in the runtime context (`context={"user_id": ...}` or an
    object with a `user_id` attribute), in `config["configurable"]["user_id"]`, or in the
    `user_id` given here. `observe_replies` (on by default) tells the store, after each model
    reply, which recalled memories the reply used (`EngramMemory.observe_reply`), so the user's
    recall learns from use without labels. The thread id (when a checkpointer is used) becomes
    the session id of what is remembered.

    ```python
    memory = EngramMemoryMiddleware(EngramMemory("memory.db"))
    agent = create_agent(model, tools, middleware=[memory])
    agent.invoke({"messages": [...]}, context={"user_id": "ana"})
    memory.end_session("ana")
    ```
    """

    def __init__(
        self,
        memory: CoreMemory,
        *,
        user_id: str | None = None,
        k: int = 5,
        lm: EngramLM | None = None,
        train_config: TrainConfig | None = None,
        header: str = HEADER,
        max_chars: int = 2000,
        placement: Literal["auto", "question", "system"] = "auto",
        remember: Literal["turns", "tools"] = "turns",
        observe_replies: bool = True,
    ) -> None:
        super().__init__()
        if placement not in ("auto", "question", "system"):
            raise InvalidInputError(
                f"placement must be 'auto', 'question' or 'system', got {placement!r}"
            )
        if remember not in ("turns", "tools"):
            raise InvalidInputError(f"remember must be 'turns' or 'tools', got {remember!r}")
        self.memory = memory
        self.user_id = None if user_id is None else check_id(user_id)
        self.k = check_k(k)
        self.lm = lm
        self.train_config = train_config
        self.header = header
        self.max_chars = max_chars
        self.placement = placement
        self.remember = remember
        self.observe_replies = observe_replies

    # -- whose memory ---------------------------------------------------------------------
    def resolve_user(self, runtime: Runtime | None) -> str:
        return find_user(getattr(runtime, "context", None), self.user_id, type(self).__name__)

    # -- before each model call: memories into the prompt ---------------------------------
    def _with_memories(self, request: ModelRequest, user: str, hits: list) -> ModelRequest:
        """The request with the memory block; a ChatEngram over this middleware's EngramLM
        also gets the user, so what end_session memorized for them is recalled in-model.

        "auto" puts the block before the user's latest message (small models read it best
        there; the stored conversation is untouched), except for a ChatEngram: it gets the
        block in the system prompt, marked RECALLED, and decodes toward it (`memory_weight`),
        which measured best on both demo scenarios (benchmarks/RESULTS.md). RECALLED text is
        never keyed: Engram keys what the user said, and memorized statements quoted there
        would fire the tables a second time."""
        overrides: dict[str, Any] = {}
        model = request.model
        engram = isinstance(model, ChatEngram)
        if self.lm is not None and engram and model.engram_lm is self.lm:
            overrides["model_settings"] = {"user_id": user, **request.model_settings}
        place = self.placement
        if place == "auto":
            place = "system" if engram else "question"
        block = format_memories(hits, header=self.header, max_chars=self.max_chars)
        if block and place == "system":
            overrides["system_message"] = _system_with_block(request.system_prompt, block, engram)
        elif block:
            overrides["messages"] = _with_block(request.messages, block, engram)
        return request.override(**overrides) if overrides else request

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse:
        query = _last_user_text(request.messages)
        if query is None:
            return handler(request)
        user = self.resolve_user(request.runtime)
        hits = self.memory.recall(query, user, self.k)
        response = handler(self._with_memories(request, user, hits))
        if reply := self._reply(response, hits):
            self.memory.observe_reply(reply, user, hits, query=query)
        return response

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse:
        query = _last_user_text(request.messages)
        if query is None:
            return await handler(request)
        user = self.resolve_user(request.runtime)
        hits = await self.memory.arecall(query, user, self.k)
        response = await handler(self._with_memories(request, user, hits))
        if reply := self._reply(response, hits):
            await self.memory.aobserve_reply(reply, user, hits, query=query)
        return response

    def _reply(self, response: ModelResponse | AIMessage, hits: list) -> str:
        """The text the model answered with, when there is one to learn from ("" if
        `observe_replies` is off or nothing was recalled)."""
        if not (self.observe_replies and hits):
            return ""
        messages = response.result if isinstance(response, ModelResponse) else [response]
        return "\n".join(t for m in messages if isinstance(m, AIMessage) if (t := m.text.strip()))

    # -- after each turn: remember what the user said -------------------------------------
    def _turn(self, state: AgentState, runtime: Runtime) -> tuple[str, list[str], str | None]:
        """Who spoke, what they said this turn (nothing when the agent's memory tools decide
        what is remembered: `remember="tools"`), and the session."""
        user = self.resolve_user(runtime)
        turn = _this_turn(state["messages"]) if self.remember == "turns" else []
        said = [t for m in turn if (t := m.text.strip())]
        return user, said, configurable().get("thread_id")

    def after_agent(self, state: AgentState, runtime: Runtime) -> None:
        user, said, session = self._turn(state, runtime)
        if said:
            with suppress(ConsentError):  # the user switched memory off: the turn is not kept
                self.memory.remember_many(said, user, session_id=session)

    async def aafter_agent(self, state: AgentState, runtime: Runtime) -> None:
        user, said, session = self._turn(state, runtime)
        if said:
            with suppress(ConsentError):
                await self.memory.aremember_many(said, user, session_id=session)

    # -- session end ----------------------------------------------------------------------
    def end_session(self, user_id: str | None = None) -> ConsolidationReport | WeightSync:
        """Consolidate the user's memories. With an EngramLM, also sync its tables for the
        user with the store (`engram_agents.chat.consolidate_into_model`: active
        statements memorized, dropped ones forgotten, questions skipped)."""
        user = user_id or self.resolve_user(None)
        if self.lm is None:
            return self.memory.consolidate(user)
        return consolidate_into_model(self.memory, self.lm, user, self.train_config)

    async def aend_session(self, user_id: str | None = None) -> ConsolidationReport | WeightSync:
        return await asyncio.to_thread(self.end_session, user_id)


def _last_user_text(messages: list[AnyMessage]) -> str | None:
    for m in reversed(messages):
        if isinstance(m, HumanMessage) and m.text.strip():
            return m.text
    return None


def _system_with_block(system: str | None, block: str, recalled: bool) -> SystemMessage:
    """The system prompt with the block appended; `recalled` (a ChatEngram) keeps the block a
    text block of its own marked RECALLED (the text reads the same)."""
    if not recalled:
        return SystemMessage(content=add_to_system_prompt(system, block))
    memories = {"type": "text", "text": block, "extras": dict(RECALLED)}
    lead = before_block(system)
    return SystemMessage(content=[{"type": "text", "text": lead}, memories] if lead else [memories])


def _with_block(messages: list[AnyMessage], block: str, recalled: bool) -> list[AnyMessage]:
    """The messages with the block put before the text of the latest human message; `recalled`
    (a ChatEngram) marks it as recalled memories, which Engram reads but does not key on."""
    at = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    content = messages[at].content
    if isinstance(content, str) and not recalled:
        content = add_to_question(content, block)
    else:  # content blocks, or a ChatEngram: the memories go first, as a text block of their own
        first = {"type": "text", "text": before_question(block)}
        if recalled:
            first["extras"] = dict(RECALLED)
        rest = [{"type": "text", "text": content}] if isinstance(content, str) else content
        content = [first, *rest]
    marked = messages[at].model_copy(update={"content": content})
    return [*messages[:at], marked, *messages[at + 1 :]]


def _this_turn(messages: list[AnyMessage]) -> list[HumanMessage]:
    """The user's messages of the latest turn: the run of human messages nearest the end."""
    turn: list[HumanMessage] = []
    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            turn.append(m)
        elif turn:
            break
    return turn[::-1]
