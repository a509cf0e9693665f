"""Chroma backend: `PersistentClient` for a local folder or `HttpClient` for a `chroma run`
server. Rows live in one collection (vectors as embeddings, the rest as metadata); revisions,
settings and the audit log live in two small side collections.

Chroma has no transactions, so a write is a fixed sequence of calls, each atomic on its own:
check the revisions the caller read and bump them; upsert rows; delete rows; store settings;
append the audit events (one `add`). A crash leaves a prefix of that sequence: rows may be changed
without their audit entry, never an audit entry for a change that did not happen, and upserts go
before deletes so a merge interrupted half-way keeps every text (the merged engram and its
sources). The chain's tail is the last event itself, so any crash point leaves a chain that
verifies. The revision check holds a lock, so writers in one process never overwrite each other's
changes; writers in several processes on one Chroma server are NOT serialized (check and write
are separate calls): use the SQLite backend when several processes write.

Each audit entry also carries its position among its user's entries (`user_ord`, from 1), so an
erasure-feed poll asks Chroma for the entries past its cursor directly (Chroma cannot count up to
a position). An append numbers its entries from the user's count, which it reads as the count
noted in `state` after the previous append (never ahead of the log: noted after the entries are
added) raised by any of the user's entries past that note (an append that crashed before noting,
or one made by another process): so appends one after another from several processes number on
correctly, while two at once, like their seq numbers, can collide. Stores written before ordinals
get theirs once, on open (see `_number_old_entries`); processes of the earlier code must not
append to a store after that (their entries would have no ordinal, and no poll would see them)."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from engram_agents.store.audit import chain
from engram_agents.store.backends.base import Accesses, Backend
from engram_agents.store.errors import BackendUnavailableError, ConflictError, StoreError
from engram_agents.store.passages import Passages
from engram_agents.store.rows import AuditEvent, EngramRow

T = TypeVar("T")
_UNIT = [1.0]  # side collections hold no vectors; Chroma still wants one per record
_PAGE = 5_000
_NUMBERED = "layout:audit_user_ord"  # state: every audit entry carries its user ordinal


class NoEmbedding:
    """Chroma must never embed on its own (its default downloads a model): the store always
    passes vectors, and this function refuses to be called."""

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        raise StoreError("the engram store passes its own vectors; Chroma must not embed")

    @staticmethod
    def name() -> str:
        return "engram-agents-external"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> NoEmbedding:
        return NoEmbedding()

    def is_legacy(self) -> bool:
        return False


def _audit_id(seq: int) -> str:
    return f"{seq:012d}"


def _count_key(user_id: str) -> str:
    return f"count:{user_id}"


def _past(user_id: str, ordinal: int) -> dict[str, Any]:
    """The user's audit entries from the `ordinal`-th on."""
    return {"$and": [{"user_id": user_id}, {"user_ord": {"$gte": ordinal}}]}


def _meta(row: EngramRow) -> dict[str, Any]:
    # Chroma's upsert merges metadata keys, so a row without new passages keeps the stored ones.
    kept = {} if row.passages is None else {"passages": _sealed_passages(row.passages)}
    return kept | {
        "user_id": row.user_id,
        "agent_id": row.agent_id or "",
        "session_id": row.session_id or "",
        "tier": row.tier,
        "active": row.active,
        "when_ts": row.when_ts,
        "created_ts": row.created_ts,
        "tags": "\n".join(row.tags),
        "payload": base64.b64encode(row.payload).decode(),
        "activations": row.activations,
        "last_access_ts": row.last_access_ts,
        "usefulness": row.usefulness,
        "strength": row.strength,
    }


def _sealed_passages(passages: Passages) -> str:
    """A long turn's passages as one metadata string (Chroma records hold one vector)."""
    if not len(passages):
        return ""
    spans = base64.b64encode(passages.spans.astype(np.int64).tobytes()).decode()
    return spans + ":" + base64.b64encode(passages.vectors.astype(np.float32).tobytes()).decode()


def _opened_passages(stored: str, dim: int) -> Passages:
    if not stored:
        return Passages.none(dim)
    spans, vectors = (base64.b64decode(part) for part in stored.split(":"))
    return Passages(
        np.frombuffer(spans, dtype=np.int64).reshape(-1, 2),
        np.frombuffer(vectors, dtype=np.float32).reshape(-1, dim),
    )


def _row(engram_id: str, meta: dict[str, Any], vector: Any) -> EngramRow:
    vector = np.asarray(vector, dtype=np.float32)
    return EngramRow(
        id=engram_id,
        user_id=meta["user_id"],
        agent_id=meta["agent_id"] or None,
        session_id=meta["session_id"] or None,
        tier=meta["tier"],
        active=bool(meta["active"]),
        when_ts=float(meta["when_ts"]),
        created_ts=float(meta["created_ts"]),
        tags=meta["tags"].split("\n") if meta["tags"] else [],
        vector=vector,
        payload=base64.b64decode(meta["payload"]),
        activations=int(meta["activations"]),
        last_access_ts=float(meta["last_access_ts"]),
        usefulness=float(meta["usefulness"]),
        strength=float(meta["strength"]),
        passages=_opened_passages(meta.get("passages", ""), len(vector)),
    )


class ChromaBackend(Backend):
    def __init__(
        self,
        path: str | Path | None = None,
        *,
        host: str | None = None,
        port: int = 8000,
        name: str = "engrams",
    ) -> None:
        import chromadb

        if (path is None) == (host is None):
            raise StoreError("ChromaBackend needs exactly one of path (local) or host (server)")
        self.where = f"http://{host}:{port}" if host else str(path)
        self._lock = threading.RLock()

        def connect() -> None:
            if host:
                self.client = chromadb.HttpClient(host=host, port=port)
            else:
                self.client = chromadb.PersistentClient(path=str(path))
            ef = NoEmbedding()
            self.rows = self.client.get_or_create_collection(
                name, embedding_function=ef, metadata={"hnsw:space": "cosine"}
            )
            side = self.client.get_or_create_collection
            self.state = side(f"{name}_state", embedding_function=ef)
            self.audit = side(f"{name}_audit", embedding_function=ef)
            self._number_old_entries()

        self._call(connect)

    def _call(self, fn: Callable[[], T]) -> T:
        with self._lock:
            try:
                return fn()
            except StoreError:
                raise
            except Exception as exc:  # chromadb raises many kinds (HTTP, value, internal)
                raise BackendUnavailableError(
                    f"Chroma at {self.where} failed: {type(exc).__name__}: {exc}"
                ) from exc

    def _state(self, key: str) -> dict[str, Any] | None:
        got = self.state.get(ids=[key], include=["metadatas"])
        return got["metadatas"][0] if got["ids"] else None

    def _audit_tail(self) -> tuple[int, str]:
        """Seq and hash of the last audit entry, read from the entries themselves: they are
        numbered 1..n, so the last one is entry n (n = the count), found by id."""
        count = self.audit.count()
        if not count:
            return 0, ""
        got = self.audit.get(ids=[_audit_id(count)], include=["metadatas"])
        if not got["ids"]:  # entries went missing; keep appending, verify_audit names the gap
            got = self.audit.get(include=["metadatas"])
        last = max((AuditEvent(**json.loads(m["event"])) for m in got["metadatas"]),
                   key=lambda e: e.seq)  # fmt: skip
        return last.seq, last.hash

    def _log(self, events: list[AuditEvent]) -> None:
        if not events:
            return
        chain(events, *self._audit_tail())
        counts = self._user_counts(sorted({e.user_id for e in events}))
        metadatas = []
        for e in events:
            counts[e.user_id] += 1
            event = json.dumps(dataclasses.asdict(e))
            metadatas.append(
                {"seq": e.seq, "user_id": e.user_id, "user_ord": counts[e.user_id], "event": event}
            )
        self.audit.add(
            ids=[_audit_id(e.seq) for e in events],
            embeddings=[_UNIT] * len(events),
            metadatas=metadatas,
        )
        self._upsert_state([(_count_key(u), {"n": n}) for u, n in counts.items()])

    def _user_counts(self, user_ids: list[str]) -> dict[str, int]:
        """How many audit entries each user has: the count noted after the last append, raised
        by the user's entries past it (one read, of what the note missed: usually nothing)."""
        noted = self.state.get(ids=[_count_key(u) for u in user_ids], include=["metadatas"])
        counts = dict.fromkeys(user_ids, 0)
        for key, meta in zip(noted["ids"], noted["metadatas"], strict=True):
            counts[key.removeprefix("count:")] = int(meta["n"])
        past = [_past(u, n + 1) for u, n in counts.items()]
        where = past[0] if len(past) == 1 else {"$or": past}
        for meta in self.audit.get(where=where, include=["metadatas"])["metadatas"]:
            counts[meta["user_id"]] = max(counts[meta["user_id"]], int(meta["user_ord"]))
        return counts

    def _number_old_entries(self) -> None:
        """Give the audit entries of a store written before ordinals theirs (each user's, in seq
        order) and note each user's count, once: done is recorded in `state`. Interrupted, it
        runs again on the next open and assigns the same numbers."""
        if self._state(_NUMBERED):
            return
        by_user: dict[str, list[tuple[int, str, Any]]] = {}
        for offset in range(0, self.audit.count(), _PAGE):
            got = self.audit.get(include=["metadatas"], limit=_PAGE, offset=offset)
            for entry_id, meta in zip(got["ids"], got["metadatas"], strict=True):
                by_user.setdefault(meta["user_id"], []).append(
                    (int(meta["seq"]), entry_id, meta.get("user_ord"))
                )
        renumbered: list[tuple[str, int]] = []
        for entries in by_user.values():
            entries.sort()
            renumbered += [
                (entry_id, n)
                for n, (_, entry_id, stored) in enumerate(entries, start=1)
                if stored != n
            ]
        for start in range(0, len(renumbered), _PAGE):
            part = renumbered[start : start + _PAGE]
            ids, numbers = zip(*part, strict=True)
            self.audit.update(ids=list(ids), metadatas=[{"user_ord": n} for n in numbers])
        self._upsert_state([(_count_key(u), {"n": len(e)}) for u, e in by_user.items()])
        self._upsert_state([(_NUMBERED, {"done": True})])

    def _upsert_state(self, state: list[tuple[str, dict[str, Any]]]) -> None:
        for start in range(0, len(state), _PAGE):
            part = state[start : start + _PAGE]
            self.state.upsert(
                ids=[s[0] for s in part],
                embeddings=[_UNIT] * len(part),
                metadatas=[s[1] for s in part],
            )

    def write(self, upserts, deletes, events, bump, settings=None, expect=None) -> dict[str, int]:
        def run() -> dict[str, int]:
            current = {}
            for user_id in set(bump) | set(expect or {}):
                state = self._state(f"rev:{user_id}")
                current[user_id] = int(state["rev"]) if state else 0
            for user_id, expected in (expect or {}).items():
                if current[user_id] != expected:
                    raise ConflictError(
                        f"user {user_id!r} changed during this write "
                        f"(revision {expected} -> {current[user_id]})"
                    )
            revisions = {user_id: current[user_id] + 1 for user_id in bump}
            self._upsert_state([(f"rev:{u}", {"rev": r}) for u, r in revisions.items()])
            if upserts:
                self.rows.upsert(
                    ids=[r.id for r in upserts],
                    embeddings=[r.vector.tolist() for r in upserts],
                    metadatas=[_meta(r) for r in upserts],
                )
            if deletes:
                self.rows.delete(ids=list(deletes))
            self._upsert_state(
                [(f"set:{u}:{k}", {"value": v}) for (u, k), v in (settings or {}).items()]
            )
            self._log(events)
            return revisions

        return self._call(run)

    def append_audit(self, events: list[AuditEvent]) -> None:
        self._call(lambda: self._log(events))

    def touch(self, accesses: Accesses, events: list[AuditEvent]) -> None:
        def run() -> None:
            if accesses:
                got = self.rows.get(ids=list(accesses), include=["metadatas"])
                metas = [
                    {
                        "activations": int(m["activations"]) + accesses[i][0],
                        "last_access_ts": accesses[i][1],
                    }
                    for i, m in zip(got["ids"], got["metadatas"], strict=True)
                ]
                self.rows.update(ids=got["ids"], metadatas=metas)
            self._log(events)

        self._call(run)

    def get(self, user_id: str, ids: list[str]) -> list[EngramRow]:
        if not ids:
            return []
        got = self._call(lambda: self.rows.get(ids=ids, include=["metadatas", "embeddings"]))
        by_id = {
            i: _row(i, m, v)
            for i, m, v in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True)
            if m["user_id"] == user_id
        }
        return [by_id[i] for i in ids if i in by_id]

    def scan(self, user_id: str) -> Iterator[EngramRow]:
        rows: list[EngramRow] = []
        offset = 0
        while True:
            got = self._call(
                lambda o=offset: self.rows.get(
                    where={"user_id": user_id},
                    include=["metadatas", "embeddings"],
                    limit=_PAGE,
                    offset=o,
                )
            )
            rows += [
                _row(i, m, v)
                for i, m, v in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True)
            ]
            if len(got["ids"]) < _PAGE:
                break
            offset += _PAGE
        rows.sort(key=lambda r: (r.created_ts, r.id))
        return iter(rows)

    def has_rows(self) -> bool:
        return self._call(self.rows.count) > 0

    def revision(self, user_id: str) -> int:
        state = self._call(lambda: self._state(f"rev:{user_id}"))
        return int(state["rev"]) if state else 0

    def setting(self, user_id: str, key: str) -> str | None:
        state = self._call(lambda: self._state(f"set:{user_id}:{key}"))
        return str(state["value"]) if state else None

    def audit_events(self, user_id: str | None = None) -> list[AuditEvent]:
        return self._audit_where({"user_id": user_id} if user_id else None)

    def audit_after(self, user_id: str, after: int) -> list[AuditEvent] | None:
        """One read of the user's entries numbered from `after` on (see the module's docstring):
        the cursor's own entry, which shows the log still has it, then the new ones. Neither the
        user's older entries nor other users' are read, in any process, with any cursor."""
        if not after:
            return self.audit_events(user_id)
        read = self._audit_where(_past(user_id, after))
        return read[1:] if read else None  # numbered 1..n: the first read is the `after`-th

    def _audit_where(self, where: dict[str, Any] | None) -> list[AuditEvent]:
        got = self._call(lambda: self.audit.get(where=where, include=["metadatas"]))
        events = [AuditEvent(**json.loads(m["event"])) for m in got["metadatas"]]
        return sorted(events, key=lambda e: e.seq)

    def checkpoint(self) -> None:
        """Nothing to do from here: Chroma compacts its own log and index files."""

    def close(self) -> None:
        """Chroma clients hold no handle that needs closing; kept for the interface."""
