"""LangChain integration for engram-agents: a local Engram chat model and long-term memory.

- `ChatEngram`: the local EngramLM as a chat model (tools, structured output, streaming).
- `EngramMemoryMiddleware`: episodic memory around any `create_agent` agent.
- `EngramStore`: the episodic store as a LangGraph store.
- `EngramRetriever`: recalled memories as Documents.
- `EngramChatMemory`: the classic chain memory (`langchain_classic`); `EngramMemory` is its
  deprecated old name.
- `create_memory_tools`: search/save/update/forget memory as the agent's own tools.
"""

from langchain_engram.chat_models import ChatEngram
from langchain_engram.memory import EngramChatMemory, deprecated_name
from langchain_engram.middleware import EngramMemoryMiddleware
from langchain_engram.retrievers import EngramRetriever
from langchain_engram.stores import EngramStore
from langchain_engram.tools import create_memory_tools

__all__ = [
    "ChatEngram",
    "EngramChatMemory",
    "EngramMemoryMiddleware",
    "EngramRetriever",
    "EngramStore",
    "create_memory_tools",
]


def __getattr__(name: str) -> type[EngramChatMemory]:
    try:
        return deprecated_name(name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
