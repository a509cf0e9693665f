"""Chroma backend: `PersistentClient` for a local folder or `HttpClient` for a `chroma run`
server. Rows live in one collection (vectors as embeddings, the rest as metadata); the audit log
lives in a side collection, recall's access counts in another (below), and revisions, settings
and the log's per-user pointers (below) in a third, `state`.

Chroma has no transactions, so a write is a fixed sequence of calls, each atomic on its own:
check the revisions the caller read and bump them; drop the recall counts of the rows it rewrites
or deletes (below); upsert rows; delete rows; store settings; append the audit events (one
`add`). A crash leaves a prefix of that sequence: rows may be changed without their audit entry,
never an audit entry for a change that did not happen, and upserts go before deletes so a merge
interrupted half-way keeps every text (the merged engram and its sources). The chain's tail is
the last event itself, so any crash point leaves a chain that verifies. The revision check holds
a lock, so writers in one process never overwrite each other's changes; writers in several
processes on one Chroma server are NOT serialized (check and write are separate calls): use the
SQLite backend when several processes write.

Access counts (`activations`, `last_access_ts`): a row's metadata holds them as of its last
whole-row write (remember, update, consolidate, re-sealing store the counts their caller read);
recalls since are counted in `{name}_accesses` (id = the engram's, metadata = its counts), so a
flushed recall writes two numbers per hit instead of rewriting each hit's metadata (payload, tags,
passages). Reads take the side entry's counts where there is one, else the row's: a store made
before the side collection reads as it did, with nothing to move. A write drops the side entries
of the rows it rewrites or deletes before writing them: a crash in between loses the recalls
counted since those rows' last write, and never leaves counts of a deleted engram behind.

The erasure feed's cursor counts a user's audit entries, which Chroma cannot count up to, and a
metadata filter costs Chroma time in proportion to the entries it matches (the user's whole log).
So each entry carries its position among its user's entries (`user_ord`, from 1), and `state`
holds, per user, a pointer from each position to the entry's seq and a note of the count: a poll
reads the note, the pointers past its cursor and those entries, all by id, whatever the log's
length, in any process, from any cursor. An append writes its entries, then in one call their
pointers, the counts and a tail note naming the last entry (which the next append reads instead
of counting the log): a reader never sees a pointer to an entry not yet written. An append that
crashed in between leaves the log's last entries without pointers and the tail note behind; the
next append, or the next open, notes them first (walking back from the log's last entry to the
last one noted). The same walk numbers a store written before ordinals on its first open, once.
Appends from several processes one after another number on correctly (each reads the notes);
two at once, like their seq numbers, can collide. Processes of the code before ordinals must not
append to a store once it is numbered: their entries stay unseen by the feed until a newer
process appends or opens."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from engram_agents.store.audit import chain
from engram_agents.store.backends.base import Accesses, Backend
from engram_agents.store.backends.chroma_rows import (
    NoEmbedding,
    access_counts,
    read_row,
    row_meta,
)
from engram_agents.store.errors import BackendUnavailableError, ConflictError, StoreError
from engram_agents.store.rows import AuditEvent, EngramRow

T = TypeVar("T")
_UNIT = [1.0]  # side collections hold no vectors; Chroma still wants one per record
_PAGE = 5_000
_TAIL = "audit:tail"  # state: the seq of the last audit entry noted


def _audit_id(seq: int) -> str:
    return f"{seq:012d}"


def _count_key(user_id: str) -> str:
    return f"count:{user_id}"


def _pointer_key(user_id: str, ordinal: int) -> str:
    return f"ord:{user_id}:{ordinal}"


def _seq(meta: dict[str, Any]) -> int:
    return int(meta["seq"])


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
            self.accesses = side(f"{name}_accesses", embedding_function=ef)
            last, noted = self._tail(self._counts(set())[1])
            if not noted:
                self._note_unnoted(last)

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
        return self._by_id(self.state, [key]).get(key)

    def _tail(self, note: dict[str, Any] | None) -> tuple[dict[str, Any] | None, bool]:
        """The metadata of the log's last entry, and whether it is noted. The tail note names
        it when the last append finished (checked: the entry after it must not exist); else it
        is entry n (n = the count): entries are numbered 1..n."""
        if note:
            ids = [_audit_id(_seq(note)), _audit_id(_seq(note) + 1)]
            got = self._by_id(self.audit, ids)
            if list(got) == ids[:1]:
                return got[ids[0]], True
        count = self.audit.count()
        if not count:
            return None, True
        last = self._by_id(self.audit, [_audit_id(count)]).values()
        if not last:  # entries went missing; keep appending, verify_audit names the gap
            last = (
                m for got in self._paged(self.audit, None, ["metadatas"]) for m in got["metadatas"]
            )
        return max(last, key=_seq), False

    def _log(self, events: list[AuditEvent]) -> None:
        if not events:
            return
        users = {e.user_id for e in events}
        counts, note = self._counts(users)
        last, noted = self._tail(note)
        if not noted and self._note_unnoted(last):
            counts, _ = self._counts(users)
        tail = AuditEvent(**json.loads(last["event"])) if last else None
        chain(events, *((tail.seq, tail.hash) if tail else (0, "")))
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
        self._note(metadatas)

    def _note(self, entries: list[dict[str, Any]]) -> None:
        """Pointers to these entries (in seq order), their users' counts and the tail note (the
        last of them), in one call."""
        counts = {m["user_id"]: int(m["user_ord"]) for m in entries}  # the last one's
        self._upsert_state(
            [(_pointer_key(m["user_id"], m["user_ord"]), {"seq": m["seq"]}) for m in entries]
            + [(_count_key(u), {"n": n}) for u, n in counts.items()]
            + [(_TAIL, {"seq": entries[-1]["seq"]})]
        )

    def _counts(self, user_ids: set[str]) -> tuple[dict[str, int], dict[str, Any] | None]:
        """How many audit entries each user has, as noted (never ahead of the log), and the
        tail note, in one read."""
        keys = {_count_key(u): u for u in user_ids}
        noted = self._by_id(self.state, [*keys, _TAIL])
        counts = {keys[i]: int(m["n"]) for i, m in noted.items() if i in keys}
        return dict.fromkeys(user_ids, 0) | counts, noted.get(_TAIL)

    def _by_id(self, collection: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The metadata of the records with these ids that exist, by id (in pages: Chroma
        limits the ids of one call)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), _PAGE):
            got = collection.get(ids=ids[start : start + _PAGE], include=["metadatas"])
            found.update(zip(got["ids"], got["metadatas"], strict=True))
        return found

    def _noted(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Those of the entries whose user's pointer at their position names them."""
        numbered = [m for m in entries if "user_ord" in m]
        keys = [_pointer_key(m["user_id"], m["user_ord"]) for m in numbered]
        seqs = {k: _seq(m) for k, m in self._by_id(self.state, keys).items()}
        return [m for k, m in zip(keys, numbered, strict=True) if seqs.get(k) == _seq(m)]

    def _note_unnoted(self, last: dict[str, Any] | None) -> bool:
        """Number and note the entries after the last noted one: those of an append that
        crashed before noting them, or a whole store written before ordinals. Whether it
        noted any."""
        if last is None or self._noted([last]):
            return False
        unnoted: list[dict[str, Any]] = []
        top = _seq(last)
        while top > 0:  # back from the end, a page at a time, to the last noted entry
            ids = [_audit_id(seq) for seq in range(max(top - _PAGE, 0) + 1, top + 1)]
            page = sorted(self._by_id(self.audit, ids).values(), key=_seq)
            noted = self._noted(page)
            after = _seq(noted[-1]) if noted else 0
            unnoted[:0] = [m for m in page if _seq(m) > after]
            if noted:
                break
            top -= _PAGE
        counts, _ = self._counts({m["user_id"] for m in unnoted})
        for m in unnoted:
            counts[m["user_id"]] += 1
            m["user_ord"] = counts[m["user_id"]]
        for start in range(0, len(unnoted), _PAGE // 2):  # in seq order: a crash keeps a prefix
            part = unnoted[start : start + _PAGE // 2]
            self.audit.update(
                ids=[_audit_id(_seq(m)) for m in part],
                metadatas=[{"user_ord": m["user_ord"]} for m in part],
            )
            self._note(part)
        return True

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
            if rewritten := [r.id for r in upserts] + list(deletes):
                # a rewritten row carries the counts its writer read; a deleted one leaves none
                self.accesses.delete(ids=rewritten)
            if upserts:
                self.rows.upsert(
                    ids=[r.id for r in upserts],
                    embeddings=[r.vector.tolist() for r in upserts],
                    metadatas=[row_meta(r) for r in upserts],
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
                self._count(accesses)
            self._log(events)

        self._call(run)

    def _count(self, accesses: Accesses) -> None:
        """Add recalls to the side entries of the rows still stored (a touch of an engram
        deleted since writes nothing)."""
        stored = self._counted(self.rows.get(ids=list(accesses), include=["metadatas"]))
        if stored:
            self.accesses.upsert(
                ids=list(stored),
                embeddings=[_UNIT] * len(stored),
                metadatas=[
                    {"activations": n + accesses[i][0], "last_access_ts": accesses[i][1]}
                    for i, (n, _) in stored.items()
                ],
            )

    def _counted(self, got: dict[str, Any]) -> dict[str, tuple[int, float]]:
        """Access counts of the rows in a `get` result: their side entry's, else (no recall
        since the row was written, or a store made before the side collection) the row's."""
        counts = {i: access_counts(m) for i, m in zip(got["ids"], got["metadatas"], strict=True)}
        side = self._by_id(self.accesses, list(counts))
        return counts | {i: access_counts(m) for i, m in side.items()}

    def _rows(self, got: dict[str, Any]) -> list[EngramRow]:
        """The rows of a `get` result (metadatas and embeddings), with their access counts."""
        counts = self._counted(got)
        rows = [
            read_row(i, m, v)
            for i, m, v in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True)
        ]
        for row in rows:
            row.activations, row.last_access_ts = counts[row.id]
        return rows

    def get(self, user_id: str, ids: list[str]) -> list[EngramRow]:
        if not ids:
            return []

        def run() -> list[EngramRow]:
            got = self.rows.get(ids=ids, include=["metadatas", "embeddings"])
            return self._rows(got)

        by_id = {r.id: r for r in self._call(run) if r.user_id == user_id}
        return [by_id[i] for i in ids if i in by_id]

    def _paged(
        self, collection: Any, where: dict[str, Any] | None, include: list[str]
    ) -> Iterator[dict[str, Any]]:
        """Every record `where` selects, a page of `_PAGE` per call: one `get` of a whole
        collection binds a variable per record and fails past SQLite's limit (~32k)."""
        offset = 0
        while True:
            got = self._call(
                lambda o=offset: collection.get(where=where, include=include, limit=_PAGE, offset=o)
            )
            yield got
            if len(got["ids"]) < _PAGE:
                return
            offset += _PAGE

    def scan(self, user_id: str) -> Iterator[EngramRow]:
        pages = self._paged(self.rows, {"user_id": user_id}, ["metadatas", "embeddings"])
        rows = [row for got in pages for row in self._call(lambda g=got: self._rows(g))]
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
        """The user's count as noted, the pointers past `after` and the entries they name, all
        read by id (see the module's docstring): an idle poll is one read, of two records."""

        def run() -> list[AuditEvent] | None:
            count = self._counts({user_id})[0][user_id]
            if after > count:
                return None
            keys = [_pointer_key(user_id, n) for n in range(after + 1, count + 1)]
            seqs = sorted(_seq(m) for m in self._by_id(self.state, keys).values())
            entries = self._by_id(self.audit, [_audit_id(seq) for seq in seqs]).values()
            return [AuditEvent(**json.loads(m["event"])) for m in sorted(entries, key=_seq)]

        return self._call(run)

    def _audit_where(self, where: dict[str, Any] | None) -> list[AuditEvent]:
        pages = self._paged(self.audit, where, ["metadatas"])
        events = [AuditEvent(**json.loads(m["event"])) for got in pages for m in got["metadatas"]]
        return sorted(events, key=lambda e: e.seq)

    def checkpoint(self) -> None:
        """Nothing to do from here: Chroma compacts its own log and index files."""

    def close(self) -> None:
        """Chroma clients hold no handle that needs closing; kept for the interface."""
