"""What a console page shows about one user, gathered from the memory (and the model, when the
server has one). User ids here are stored ids (`Principal.inside`); pages show them as the
caller wrote them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from engram_agents.memory import EngramMemory
from engram_agents.server.tenancy import Principal, verified_entries
from engram_agents.store.errors import AuditIntegrityError
from engram_agents.store.records import Engram

if TYPE_CHECKING:
    from engram_agents.lm import EngramLM

AUDIT_SHOWN = 50


class AuditEntry(BaseModel):
    seq: int
    at: datetime
    action: str
    engram_ids: list[str]
    hash: str


class ChainStatus(BaseModel):
    verified: bool
    entries: int = 0
    problem: str = ""


class Overview(BaseModel):
    """The timeline (newest first), counts per tier, bytes on disk and the audit trail."""

    engrams: list[Engram]
    counts: dict[str, int]
    superseded: int
    stored_bytes: int
    audit: list[AuditEntry]
    audit_total: int


def users_of(memory: EngramMemory, who: Principal) -> list[str]:
    """The users a key may open: those it names, else the tenant's users the store knows of."""
    if who.users is not None:
        return list(who.users)
    listing = getattr(memory.store.backend, "users", None)  # the Chroma backend cannot list
    if listing is None:
        return []
    prefix = "" if who.tenant is None else f"{who.tenant}:"
    return [who.outside(u) for u in listing() if u.startswith(prefix)]


def overview(memory: EngramMemory, user: str, include_superseded: bool) -> Overview:
    everything = memory.list(user, include_superseded=True)
    live = [e for e in everything if e.superseded_by is None]
    shown = everything if include_superseded else live
    backend = memory.store.backend
    events = backend.audit_events(user)
    return Overview(
        engrams=sorted(shown, key=lambda e: (e.when, e.id), reverse=True),
        counts=dict(Counter(e.tier.value for e in live)),
        superseded=len(everything) - len(live),
        stored_bytes=sum(
            len(r.payload) + r.vector.nbytes + sum(len(t) for t in r.tags)
            for r in backend.scan(user)
        ),
        audit=[
            AuditEntry(
                seq=e.seq,
                at=datetime.fromtimestamp(e.ts, UTC),
                action=e.action,
                engram_ids=e.engram_ids,
                hash=e.hash,
            )
            for e in reversed(events[-AUDIT_SHOWN:])
        ],
        audit_total=len(events),
    )


def chain_status(memory: EngramMemory, who: Principal) -> ChainStatus:
    """The audit log's hash chain, checked end to end (the whole store's, like the API's), with
    the count of the entries about the key's users."""
    try:
        return ChainStatus(verified=True, entries=verified_entries(memory, who))
    except AuditIntegrityError as exc:
        return ChainStatus(verified=False, problem=who.message(str(exc)))


def facts_of(lm: EngramLM, user: str) -> list[dict[str, str]]:
    """The facts consolidated into the user's Engram tables, as question/answer/statement."""
    return [f.model_dump(exclude_none=True) for f in lm.facts(user)]
