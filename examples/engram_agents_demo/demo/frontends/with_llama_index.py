"""The demo's agents in LlamaIndex: chat engines over the Engram LLM, one session per engine.

- none: SimpleChatEngine alone.
- rag: ContextChatEngine over the user's past turns in a Chroma collection (same MiniLM
  encoder), the top-k chunks in the context.
- episodic / hybrid: SimpleChatEngine with EngramMemory over an episodic store.
- in_model / hybrid: the Engram LLM with the user's memorized tables loaded.
"""

from __future__ import annotations

import time
import uuid
from functools import cache
from typing import Any

import chromadb
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.bridge.pydantic import Field
from llama_index.core.chat_engine import ContextChatEngine, SimpleChatEngine
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.llm import LLMChatStartEvent
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from engram_agents_demo.demo.runner import IN_WEIGHTS, Exchange, Workspace
from engram_agents_demo.demo.scenario import Day
from llama_index.llms.engram import Engram
from llama_index.memory.engram import EngramMemory


class TurnRetriever(BaseRetriever):
    """Plain RAG over past user turns: a Chroma collection searched by MiniLM similarity."""

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        client = chromadb.PersistentClient(path=str(workspace.path("rag")))
        # Vectors always come from the project's encoder: Chroma's default would download one.
        self.turns = client.get_or_create_collection("turns", embedding_function=None)
        self.encoder, self.k = workspace.encoder, workspace.k

    def add(self, text: str) -> None:
        vector = self.encoder.encode([text]).tolist()
        self.turns.add(ids=[uuid.uuid4().hex], documents=[text], embeddings=vector)

    def _retrieve(self, query: QueryBundle) -> list[NodeWithScore]:
        if not self.turns.count():
            return []
        found = self.turns.query(
            query_embeddings=self.encoder.encode([query.query_str]).tolist(),
            n_results=min(self.k, self.turns.count()),
        )
        return [
            NodeWithScore(node=TextNode(text=doc), score=1.0 - dist)
            for doc, dist in zip(found["documents"][0], found["distances"][0], strict=True)
        ]


class PromptCapture(BaseEventHandler):
    """Keeps the messages of the last LLM chat call: what the model was actually given."""

    messages: list[Any] = Field(default_factory=list)

    def handle(self, event: Any, **kwargs: Any) -> None:
        if isinstance(event, LLMChatStartEvent):
            self.messages = list(event.messages)


@cache
def prompt_capture() -> PromptCapture:
    """One handler on LlamaIndex's root dispatcher per process (handlers are never removed,
    so one per frontend would pile up and each would see every call)."""
    capture = PromptCapture()
    get_dispatcher().add_event_handler(capture)
    return capture


class LlamaIndexAgent:
    def __init__(self, mode: str, workspace: Workspace, capture: PromptCapture) -> None:
        self.mode, self.workspace, self.capture = mode, workspace, capture
        self.user = workspace.scenario.user_id
        self.retriever = TurnRetriever(workspace) if mode == "rag" else None
        self.engines: dict[str, Any] = {}

    def engine(self, session: str, max_new_tokens: int) -> Any:
        """One chat engine per session: each session starts with an empty context window."""
        if session not in self.engines:
            system = self.workspace.scenario.assistant
            llm = Engram(
                lm=self.workspace.lm,
                user_id=self.user if self.mode in IN_WEIGHTS else None,
                max_new_tokens=max_new_tokens,
            )
            if self.retriever is not None:
                engine = ContextChatEngine.from_defaults(
                    retriever=self.retriever, llm=llm, system_prompt=system
                )
            elif self.mode in ("episodic", "hybrid"):
                memory = EngramMemory.from_defaults(
                    self.workspace.user(self.mode),
                    self.workspace.store(self.mode),
                    llm=llm,
                    session_id=session,
                    k=self.workspace.k,
                    # the Engram LLM decodes toward recalled memories, which measured best
                    # in the system prompt (as EngramMemoryMiddleware's placement="auto")
                    placement="system",
                )
                engine = SimpleChatEngine.from_defaults(
                    llm=llm, memory=memory, system_prompt=system
                )
            else:
                engine = SimpleChatEngine.from_defaults(llm=llm, system_prompt=system)
            self.engines[session] = engine
        return self.engines[session]

    def say(self, text: str, session: str, max_new_tokens: int) -> Exchange:
        engine = self.engine(session, max_new_tokens)
        self.capture.messages = []
        start = time.perf_counter()
        reply = engine.chat(text).response
        seconds = time.perf_counter() - start
        if self.retriever is not None:
            self.retriever.add(text)
        given = [{"role": m.role.value, "content": m.content or ""} for m in self.capture.messages]
        prompt = "\n".join(m["content"] for m in given)
        # A context engine that retrieves nothing answers without calling the model at all.
        tokens = self.workspace.lm.count_tokens(given) if given else 0
        return Exchange(reply, prompt, tokens, seconds)

    def end_day(self, day: Day) -> None:
        self.engines.clear()
        if self.mode in ("episodic", "hybrid"):
            self.workspace.store(self.mode).consolidate(self.workspace.user(self.mode))
        if self.mode in IN_WEIGHTS:
            self.workspace.consolidate_day(day)


class LlamaIndexFrontend:
    name = "llama-index"

    def __init__(self) -> None:
        self.capture = prompt_capture()

    def agent(self, mode: str, workspace: Workspace) -> LlamaIndexAgent:
        return LlamaIndexAgent(mode, workspace, self.capture)
