"""Hash-chained audit log: each entry commits to the previous one, so an edited, removed or
reordered entry breaks the chain and `verify` says where."""

from __future__ import annotations

import hashlib
import json
import time

from engram_agents.store.errors import AuditIntegrityError
from engram_agents.store.rows import AuditEvent

GENESIS = "0" * 64
# What `json.dumps(..., sort_keys=True, separators=(",", ":"))` writes, without building an
# encoder per call (every recall's entry is hashed: a third of the cost of chaining one).
_BODY = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def entry_hash(event: AuditEvent) -> str:
    body = _BODY([event.seq, event.ts, event.user_id, event.action, event.engram_ids, event.detail])
    return hashlib.sha256((event.prev_hash + body).encode()).hexdigest()


def chain(events: list[AuditEvent], last_seq: int, last_hash: str) -> list[AuditEvent]:
    for event in events:
        last_seq += 1
        event.seq, event.prev_hash = last_seq, last_hash or GENESIS
        event.ts = event.ts or time.time()
        event.hash = last_hash = entry_hash(event)
    return events


def verify(events: list[AuditEvent]) -> int:
    """Check the whole log; return its length or raise naming the first bad entry."""
    previous = GENESIS
    for position, event in enumerate(events, start=1):
        if event.seq != position:
            raise AuditIntegrityError(f"audit entry {position} is missing or out of order")
        if event.prev_hash != previous or entry_hash(event) != event.hash:
            raise AuditIntegrityError(f"audit entry {position} ({event.action}) was altered")
        previous = event.hash
    return len(events)
