"""The episodic store: pydantic records, the per-user `ScopeIndex`, and `EpisodicStore` (its
writer, ranker, consolidator and user control) over a pluggable backend. The names load on first
use, so importing a leaf module (`store.records`, `store.timeexpr`) stays light."""

from __future__ import annotations

from typing import Any

__all__ = ["ConsolidationReport", "EpisodicStore", "MemoryItem", "ScopeIndex", "scope_of"]


def __getattr__(name: str) -> Any:
    if name == "EpisodicStore":
        from engram_agents.store.store import EpisodicStore

        return EpisodicStore
    if name == "ScopeIndex":
        from engram_agents.store.index import ScopeIndex

        return ScopeIndex
    if name in ("ConsolidationReport", "MemoryItem", "scope_of"):
        from engram_agents.store import records

        return getattr(records, name)
    raise AttributeError(name)
