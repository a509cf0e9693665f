"""Recalled engrams as LangChain Documents (shared by the retriever and the store)."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document

from engram_agents.chat import RecallHit


def hit_document(hit: RecallHit) -> Document:
    """A recalled engram as a Document: its text, plus its id, scores, scope, times and tags."""
    engram = hit.engram
    meta: dict[str, Any] = {
        **engram.metadata.extra,
        "id": engram.id,
        "score": hit.score,
        "similarity": hit.similarity,
        "matched_tags": hit.matched_tags,
        "explanation": hit.explanation,
        "tags": engram.sketch,
        "user_id": engram.scope.user_id,
        "agent_id": engram.scope.agent_id,
        "session_id": engram.scope.session_id,
        "tier": engram.tier.value,
        "created_at": engram.metadata.created_at.isoformat(),
        "event_time": engram.metadata.event_time.isoformat()
        if engram.metadata.event_time
        else None,
    }
    return Document(page_content=engram.text, metadata=meta, id=engram.id)
