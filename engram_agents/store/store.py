"""EpisodicStore: the write path (redact, encode, sketch, dedupe, supersede, persist), two-stage
recall (sketch filter, dense rank, fused score), feedback, consolidation and user control.
It is synchronous and thread-safe; `EngramMemory` adds the async twins and the friendly API.

Each part lives in its own module over the shared ground of `core.StoreCore` (backend, codec,
per-user `ScopeIndex` cache, lock and the revision-checked write): `writer`, `ranker`,
`consolidator` and `control`. This class only puts them together."""

from __future__ import annotations

from engram_agents.store.consolidator import Consolidator
from engram_agents.store.control import UserControl
from engram_agents.store.ranker import Ranker
from engram_agents.store.records import ConsolidationReport, MemoryItem, scope_of
from engram_agents.store.writer import Writer

__all__ = ["ConsolidationReport", "EpisodicStore", "MemoryItem", "scope_of"]


class EpisodicStore(Writer, Ranker, Consolidator, UserControl):
    """One user-partitioned episodic store: remember, recall, feedback, consolidate, control."""
