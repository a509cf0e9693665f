"""EngramRetriever: a user's episodic memories as LangChain Documents, for RAG chains."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from engram_agents import EngramMemory as CoreMemory
from engram_agents import InvalidInputError
from engram_agents.chat import CheckedId, RecallK
from langchain_engram._documents import hit_document


class EngramRetriever(BaseRetriever):
    """Recall from the episodic store (tag filter, then dense ranking), one user at a time.

    Each Document carries the engram's id, fused score, similarity, matched tags (why it was
    recalled), scope, tier and times in its metadata.

    ```python
    retriever = EngramRetriever(memory=EngramMemory("memory.db"), user_id="ana", k=4)
    retriever.invoke("when is the dentist?")
    retriever.invoke("what did I do?", user_id="bob", time_range="last week")
    ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: CoreMemory
    user_id: CheckedId
    k: RecallK = 4
    session_id: CheckedId | None = None
    """Only memories from this session (None: all sessions)."""
    tags: list[str] = Field(default_factory=list)
    """Sketch tags every result must carry, e.g. ["name:pixel"]."""

    def _recall_args(self, query: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(kwargs) - {"user_id", "k", "session_id", "tags", "time_range"}
        if unknown:
            raise InvalidInputError(f"EngramRetriever got unknown arguments {sorted(unknown)}")
        return {
            "query": query,
            "user_id": kwargs.get("user_id", self.user_id),
            "k": kwargs.get("k", self.k),
            "session_id": kwargs.get("session_id", self.session_id),
            "tags": kwargs.get("tags", self.tags),
            "time_range": kwargs.get("time_range"),
        }

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return [hit_document(h) for h in self.memory.recall(**self._recall_args(query, kwargs))]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = await self.memory.arecall(**self._recall_args(query, kwargs))
        return [hit_document(h) for h in hits]
