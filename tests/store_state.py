"""What a refused input must leave alone: every row of every table of a SQLite store (engrams,
vectors, tags, settings, audit) and the length of its verified audit chain."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from engram_agents.memory import EngramMemory


def store_state(memory: EngramMemory) -> tuple[list[str], int]:
    """(the store's rows as SQL, the audit chain's length); reading it changes nothing."""
    with closing(sqlite3.connect(memory.store.backend.path)) as db:
        rows = list(db.iterdump())
    return rows, memory.verify_audit()
