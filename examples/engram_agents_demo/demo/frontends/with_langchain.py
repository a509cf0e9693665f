"""The demo's agents in LangChain: `create_agent` with ChatEngram, one middleware per memory.

- none: the agent alone.
- rag: what a LangChain user builds for plain RAG: the user's past turns in a langchain-chroma
  vector store (same MiniLM encoder), the top-k chunks added to the system prompt.
- episodic / hybrid: EngramMemoryMiddleware over an episodic store.
- in_model / hybrid: ChatEngram with the user's memorized tables loaded.
"""

from __future__ import annotations

import time
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, ModelRequest, after_agent, dynamic_prompt
from langchain_chroma import Chroma
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from engram_agents.memory_context import add_to_system_prompt
from engram_agents_demo.demo.runner import IN_WEIGHTS, Exchange, Workspace
from engram_agents_demo.demo.scenario import Day
from langchain_engram import ChatEngram, EngramMemoryMiddleware


class EncoderEmbeddings(Embeddings):
    """LangChain embeddings over the project's encoder, so Chroma never downloads its own."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class PromptCapture(BaseCallbackHandler):
    """Keeps the messages of the last chat-model call: what the model was actually given."""

    def __init__(self) -> None:
        self.messages: list[BaseMessage] = []

    def on_chat_model_start(self, serialized, messages, **kwargs) -> None:
        self.messages = list(messages[0])


def last_human(messages: list[BaseMessage]) -> str:
    return next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)), "")


def rag_middleware(workspace: Workspace) -> list[AgentMiddleware]:
    chunks = Chroma(
        collection_name="turns",
        embedding_function=EncoderEmbeddings(workspace.encoder),
        persist_directory=str(workspace.path("rag")),
    )

    @dynamic_prompt
    def retrieved_context(request: ModelRequest) -> str:
        question = last_human(request.messages)
        docs = chunks.similarity_search(question, k=workspace.k) if question else []
        block = "\n".join(["Relevant past conversation:", *(f"- {d.page_content}" for d in docs)])
        return add_to_system_prompt(request.system_prompt, block if docs else "")

    @after_agent
    def index_turn(state: dict, runtime: Any) -> None:
        if text := last_human(state["messages"]):
            chunks.add_texts([text])

    return [retrieved_context, index_turn]


class LangChainAgent:
    def __init__(self, mode: str, workspace: Workspace, chat_model: BaseChatModel | None):
        self.mode, self.workspace, self.chat_model = mode, workspace, chat_model
        self.middleware: list[AgentMiddleware] = []
        if mode == "rag":
            self.middleware += rag_middleware(workspace)
        self.memory = None
        if mode in ("episodic", "hybrid"):
            store, user = workspace.store(mode), workspace.user(mode)
            self.memory = EngramMemoryMiddleware(store, user_id=user, k=workspace.k)
            self.middleware.append(self.memory)
        self.checkpointer = InMemorySaver()
        self.capture = PromptCapture()
        self.agents: dict[int, tuple[Any, ChatEngram]] = {}

    def agent(self, max_new_tokens: int) -> tuple[Any, ChatEngram]:
        """The agent answering with this reply budget; all share memory and conversations."""
        if max_new_tokens not in self.agents:
            in_weights = self.mode in IN_WEIGHTS
            engram = ChatEngram(
                lm=self.workspace.lm,
                user_id=self.workspace.scenario.user_id if in_weights else None,
                max_tokens=max_new_tokens,
            )
            model = self.chat_model if self.chat_model is not None and not in_weights else engram
            agent = create_agent(
                model,
                tools=[],
                system_prompt=self.workspace.scenario.assistant,
                middleware=self.middleware,
                checkpointer=self.checkpointer,
            )
            self.agents[max_new_tokens] = (agent, engram)
        return self.agents[max_new_tokens]

    def say(self, text: str, session: str, max_new_tokens: int) -> Exchange:
        agent, engram = self.agent(max_new_tokens)
        config = {"configurable": {"thread_id": session}, "callbacks": [self.capture]}
        start = time.perf_counter()
        out = agent.invoke({"messages": [HumanMessage(text)]}, config)
        seconds = time.perf_counter() - start
        given = self.capture.messages
        prompt = "\n".join(m.text for m in given)
        tokens = engram.get_num_tokens_from_messages(given)
        return Exchange(out["messages"][-1].text, prompt, tokens, seconds)

    def end_day(self, day: Day) -> None:
        if self.memory is not None:
            self.memory.end_session()
        if self.mode in IN_WEIGHTS:
            self.workspace.consolidate_day(day)


class LangChainFrontend:
    """`chat_model`: any LangChain chat model for the modes that need no in-model memory
    (none, rag, episodic); in_model and hybrid always run on ChatEngram."""

    name = "langchain"

    def __init__(self, chat_model: BaseChatModel | None = None) -> None:
        self.chat_model = chat_model

    def agent(self, mode: str, workspace: Workspace) -> LangChainAgent:
        return LangChainAgent(mode, workspace, self.chat_model)
