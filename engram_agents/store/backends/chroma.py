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
are separate calls): use the SQLite backend when several processes write."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from engram_agents.recent import Recent
from engram_agents.store.audit import chain
from engram_agents.store.backends.base import Accesses, Backend
from engram_agents.store.errors import BackendUnavailableError, ConflictError, StoreError
from engram_agents.store.passages import Passages
from engram_agents.store.rows import AuditEvent, EngramRow

T = TypeVar("T")
_UNIT = [1.0]  # side collections hold no vectors; Chroma still wants one per record
_PAGE = 5_000


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


def _from(seq: int) -> dict[str, Any]:
    """Put first in an `$and` with the user: Chroma filters a little faster in that order."""
    return {"seq": {"$gte": seq}}


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
        # the erasure feed's cursors this handle returned: (user, position) -> the seq of the
        # user's entry at that position (a cursor per client polling, with room)
        self._bookmarks: Recent[tuple[str, int], int] = Recent(4096)

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
        self.audit.add(
            ids=[_audit_id(e.seq) for e in events],
            embeddings=[_UNIT] * len(events),
            metadatas=[
                {"seq": e.seq, "user_id": e.user_id, "event": json.dumps(dataclasses.asdict(e))}
                for e in events
            ],
        )

    def _upsert_state(self, state: list[tuple[str, dict[str, Any]]]) -> None:
        if state:
            self.state.upsert(
                ids=[s[0] for s in state],
                embeddings=[_UNIT] * len(state),
                metadatas=[s[1] for s in state],
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
        """Asks Chroma only for the user's entries from the `after`-th on, so a poll of the
        erasure feed fetches and decodes what is new (plus the cursor's own entry), not the
        user's whole log (Chroma's filter still walks its index of the user's entries). The
        cursor counts the user's entries, which Chroma cannot count up to, so each poll
        bookmarks the seq of the entry its returned cursor ends on, and the next poll from that
        cursor starts there. A bookmark is a hint checked against the log (the entry it names
        must be the user's and open the read); a cursor without a good one (after a restart,
        from another server, not one the feed returned) costs one listing of the user's entry
        ids, as every poll did before bookmarks. Bookmarks live in this handle's memory: kept
        in Chroma, each write would cost a poll more than the listing it saves (see
        benchmarks/chroma_feed_poll.py)."""
        if not after:
            tail = self.audit_events(user_id)
        else:
            mine = {"user_id": user_id}
            mark = self._bookmarks.get((user_id, after))
            read = [] if mark is None else self._audit_where({"$and": [_from(mark), mine]})
            if not read or read[0].seq != mark:  # no bookmark, or one the log disowns
                ids = self._call(lambda: self.audit.get(where=mine, include=[]))["ids"]
                if len(ids) < after:
                    return None
                mark = int(sorted(ids)[after - 1])  # zero-padded: text order is seq order
                self._bookmarks.put((user_id, after), mark)
                read = self._audit_where({"$and": [_from(mark), mine]})
            tail = read[1:]  # past the cursor's own entry
        if tail:
            self._bookmarks.put((user_id, after + len(tail)), tail[-1].seq)
        return tail

    def _audit_where(self, where: dict[str, Any] | None) -> list[AuditEvent]:
        got = self._call(lambda: self.audit.get(where=where, include=["metadatas"]))
        events = [AuditEvent(**json.loads(m["event"])) for m in got["metadatas"]]
        return sorted(events, key=lambda e: e.seq)

    def checkpoint(self) -> None:
        """Nothing to do from here: Chroma compacts its own log and index files."""

    def close(self) -> None:
        """Chroma clients hold no handle that needs closing; kept for the interface."""
