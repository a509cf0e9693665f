"""What a console page shows about one user, gathered from the memory (and the model, when the
server has one). User ids here are stored ids (`Principal.inside`); pages show them as the
caller wrote them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel

from engram_agents.erasure_feed import ErasureEvent, erasure_feed
from engram_agents.memory import EngramMemory
from engram_agents.server.tenancy import Principal, verified_entries
from engram_agents.store.errors import AuditIntegrityError
from engram_agents.store.records import Engram
from engram_agents.store.rows import AuditEvent

if TYPE_CHECKING:
    from engram_agents.lm import EngramLM

AUDIT_SHOWN = 50
ERASURES_SHOWN = 20  # a page of the erasure feed; older ones are a link away


class LoggedEvent(BaseModel):
    at: datetime
    action: str
    engram_ids: list[str]

    @classmethod
    def of(cls, event: AuditEvent | ErasureEvent, **more: object) -> Self:
        at = datetime.fromtimestamp(event.ts, UTC)
        return cls(at=at, action=event.action, engram_ids=event.engram_ids, **more)


class AuditEntry(LoggedEvent):
    seq: int
    hash: str


class Erasure(LoggedEvent):
    position: int  # the feed's: among the user's audit entries, counted from 1


class ErasurePage(BaseModel):
    """The user's erasure feed, newest first, one page of it: the erasures before `before`
    (None: the newest), how many there are in all, the feed's cursor now, and where the next
    older page starts (None: this is the oldest)."""

    shown: list[Erasure]
    total: int
    cursor: int
    before: int | None
    older: int | None


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
    erasures: ErasurePage


def users_of(memory: EngramMemory, who: Principal) -> list[str]:
    """The users a key may open: those it names, else the tenant's users the store knows of."""
    if who.users is not None:
        return list(who.users)
    listing = getattr(memory.store.backend, "users", None)  # the Chroma backend cannot list
    if listing is None:
        return []
    prefix = "" if who.tenant is None else f"{who.tenant}:"
    return [who.outside(u) for u in listing() if u.startswith(prefix)]


def overview(
    memory: EngramMemory, user: str, include_superseded: bool, erasures_before: int | None = None
) -> Overview:
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
        audit=[AuditEntry.of(e, seq=e.seq, hash=e.hash) for e in reversed(events[-AUDIT_SHOWN:])],
        audit_total=len(events),
        erasures=erasure_page(events, erasures_before),
    )


def erasure_page(events: list[AuditEvent], before: int | None) -> ErasurePage:
    """A page of the feed `EngramMemory.erasures(user)` returns, from the user's audit entries
    the page has read anyway (the feed's positions are their places among them)."""
    feed = erasure_feed(events, 0)
    newest_first = [e for e in reversed(feed.erasures) if before is None or e.position < before]
    shown = newest_first[:ERASURES_SHOWN]
    return ErasurePage(
        shown=[Erasure.of(e, position=e.position) for e in shown],
        total=len(feed.erasures),
        cursor=feed.cursor,
        before=before,
        older=shown[-1].position if len(newest_first) > len(shown) else None,
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
