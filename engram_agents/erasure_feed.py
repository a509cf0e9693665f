"""A user's erasures as a feed read with a cursor: what lets a model kept in another process
(a client of `engram-agents serve`) forget what the store deleted, as soon as it asks.

The feed is read from the audit log, which records every delete, forget, scrub (an engram that
lost a copy of erased text) and evict (consolidation's removal of unused short-term engrams)
with the engram ids, never the text. The cursor is the position among the user's own audit
entries, not the log's global sequence number, so a reader learns nothing of other users'
activity."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from engram_agents.errors import InvalidInputError
from engram_agents.store.rows import AuditEvent

ERASING = frozenset({"delete", "forget", "scrub", "evict"})


class ErasureEvent(BaseModel):
    """One erasure: which of the user's engrams lost their text, and when."""

    model_config = ConfigDict(frozen=True)

    position: int  # among the user's audit entries, counted from 1
    ts: float
    action: str
    engram_ids: list[str]


class ErasureFeed(BaseModel):
    """The erasures after a cursor, and the cursor to ask from next time."""

    erasures: list[ErasureEvent]
    cursor: int


def check_cursor(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"after must be a non-negative integer (a cursor), got {value!r}")
    return value


def erasure_feed(tail: list[AuditEvent], after: int) -> ErasureFeed:
    """The erasures among `tail`, one user's audit entries past the first `after` of them."""
    erasures = [
        ErasureEvent(position=n, ts=e.ts, action=e.action, engram_ids=e.engram_ids)
        for n, e in enumerate(tail, start=after + 1)
        if e.action in ERASING
    ]
    return ErasureFeed(erasures=erasures, cursor=after + len(tail))
