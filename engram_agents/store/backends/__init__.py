"""Storage backends: SQLite (embedded default) and Chroma (local or server)."""

from engram_agents.store.backends.base import Backend

__all__ = ["Backend"]
