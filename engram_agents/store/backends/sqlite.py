"""SQLite backend: one file in WAL mode; writes are single IMMEDIATE transactions that first check
the revisions the caller read, so several processes can write safely (a stale writer gets
`ConflictError`, never overwrites a newer change) and a killed process loses nothing that was
acknowledged.

Access counts (`activations`, `last_access_ts`) have two parts. The `engrams` columns are the
base, set by every whole-row write (remember, update, consolidate, re-sealing), which stores the
counts its caller read (plus its own changes, such as a reinforcement) exactly as the old single
column did. Recalls since that write are added in `accesses`, one small row per touched engram,
so a touch writes a few dozen bytes instead of rewriting a row of several kilobytes (its text,
vector and tags) to change two numbers. Readers see base + side (the later of the two times).
A whole-row write, a delete and a forget remove the engram's side row in the same transaction,
so counts are never doubled and a forgotten id leaves nothing behind; a touch of an id no longer
stored writes nothing. Files made before the side table get it on open, their counts staying as
the base. As before, a whole-row write does not see touches another process wrote after it read
the row (its revision check covers writes, not recalls), and they are overwritten."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from engram_agents.store.audit import chain
from engram_agents.store.backends.base import Accesses, Backend
from engram_agents.store.errors import BackendUnavailableError, ConflictError
from engram_agents.store.passages import Passages
from engram_agents.store.rows import AuditEvent, EngramRow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS engrams (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, agent_id TEXT, session_id TEXT,
    tier TEXT NOT NULL, active INTEGER NOT NULL, when_ts REAL NOT NULL, created_ts REAL NOT NULL,
    tags TEXT NOT NULL, vector BLOB NOT NULL, payload BLOB NOT NULL,
    activations INTEGER NOT NULL DEFAULT 0, last_access_ts REAL NOT NULL DEFAULT 0,
    usefulness REAL NOT NULL DEFAULT 0, strength REAL NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS engrams_user ON engrams(user_id, created_ts);
CREATE TABLE IF NOT EXISTS accesses (
    id TEXT PRIMARY KEY, activations INTEGER NOT NULL, last_access_ts REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS passages (
    engram_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, spans BLOB NOT NULL, vectors BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_user ON passages(user_id);
CREATE TABLE IF NOT EXISTS revisions (user_id TEXT PRIMARY KEY, rev INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings (
    user_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (user_id, key)
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, ts REAL NOT NULL, user_id TEXT NOT NULL, action TEXT NOT NULL,
    engram_ids TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_user ON audit(user_id, seq);
"""
_IDS_PER_READ = 10_000  # well below SQLite's limit on a statement's parameters
_SORTED_JSON = json.JSONEncoder(sort_keys=True).encode  # json.dumps(x, sort_keys=True), one encoder
_COLUMNS = (
    "id, user_id, agent_id, session_id, tier, active, when_ts, created_ts, tags, vector, payload, "
    "activations, last_access_ts, usefulness, strength"
)
# What a read selects: the stored row with the recalls counted since its last write added (see
# the module's docstring), from `_JOINED`. `_RECORD` is the same with empty tags and vector: a
# record is decoded from the payload alone, and a long turn's tags and vector are most of what
# reading a hit row would otherwise copy and split.
_COUNTS = (
    "e.activations + coalesce(a.activations, 0), "
    "max(e.last_access_ts, coalesce(a.last_access_ts, 0))"
)
_ROW = "e.id, e.user_id, e.agent_id, e.session_id, e.tier, e.active, e.when_ts, e.created_ts, "
_SELECT = f"{_ROW}e.tags, e.vector, e.payload, {_COUNTS}, e.usefulness, e.strength"
_RECORD = f"{_ROW}'', x'', e.payload, {_COUNTS}, e.usefulness, e.strength"
_JOINED = "engrams e LEFT JOIN accesses a ON a.id = e.id"
_TOUCH = """
INSERT INTO accesses (id, activations, last_access_ts)
SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM engrams WHERE id = ?1)
ON CONFLICT(id) DO UPDATE SET activations = activations + excluded.activations,
    last_access_ts = max(last_access_ts, excluded.last_access_ts)
"""


def _to_tuple(row: EngramRow) -> tuple:
    return (
        row.id, row.user_id, row.agent_id, row.session_id, row.tier, int(row.active), row.when_ts,
        row.created_ts, "\n".join(row.tags), row.vector.astype(np.float32).tobytes(),
        row.payload, row.activations, row.last_access_ts, row.usefulness, row.strength,
    )  # fmt: skip


def _from_tuple(t: tuple) -> EngramRow:
    return EngramRow(
        id=t[0], user_id=t[1], agent_id=t[2], session_id=t[3], tier=t[4], active=bool(t[5]),
        when_ts=t[6], created_ts=t[7], tags=t[8].split("\n") if t[8] else [],
        vector=np.frombuffer(t[9], dtype=np.float32), payload=bytes(t[10]), activations=t[11],
        last_access_ts=t[12], usefulness=t[13], strength=t[14],
    )  # fmt: skip


def _with_passages(row: EngramRow, stored: tuple[bytes, bytes] | None) -> EngramRow:
    dim = len(row.vector)
    if stored is None:
        row.passages = Passages.none(dim)
    else:
        spans = np.frombuffer(stored[0], dtype=np.int64).reshape(-1, 2)
        row.passages = Passages(spans, np.frombuffer(stored[1], dtype=np.float32).reshape(-1, dim))
    return row


class SQLiteBackend(Backend):
    def __init__(
        self, path: str | Path, *, timeout_s: float = 10.0, synchronous: str = "NORMAL"
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=timeout_s, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA secure_delete=ON")  # freed pages are zeroed, not left
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _error(self, exc: sqlite3.Error) -> BackendUnavailableError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            why = "is locked by another process (timed out waiting)"
        elif "not a database" in text or "malformed" in text:
            why = "is corrupt or not an SQLite database"
        else:
            why = f"failed: {text}"
        return BackendUnavailableError(f"engram database {self.path!r} {why}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from exc
                raise

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def _log(self, db: sqlite3.Connection, events: list[AuditEvent]) -> None:
        if not events:
            return
        tail = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        chain(events, *(tail or (0, "")))
        db.executemany(
            "INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)",
            [
                (e.seq, e.ts, e.user_id, e.action, json.dumps(e.engram_ids),
                 _SORTED_JSON(e.detail), e.prev_hash, e.hash)
                for e in events
            ],
        )  # fmt: skip

    @staticmethod
    def _revision(db: sqlite3.Connection, user_id: str) -> int:
        row = db.execute("SELECT rev FROM revisions WHERE user_id = ?", (user_id,)).fetchone()
        return row[0] if row else 0

    def write(self, upserts, deletes, events, bump, settings=None, expect=None) -> dict[str, int]:
        return self._write({}, [], upserts, deletes, events, bump, settings, expect)

    def touch_and_write(self, accesses, touch_events, *write) -> dict[str, int]:
        return self._write(accesses, touch_events, *write)

    def _write(
        self, accesses, touch_events, upserts, deletes, events, bump, settings=None, expect=None
    ) -> dict[str, int]:
        with self._tx() as db:
            self._touch(db, accesses, touch_events)
            for user_id, expected in (expect or {}).items():
                if (now := self._revision(db, user_id)) != expected:
                    raise ConflictError(
                        f"user {user_id!r} changed during this write (revision {expected} -> {now})"
                    )
            db.executemany(
                f"INSERT OR REPLACE INTO engrams ({_COLUMNS}) VALUES ({','.join('?' * 15)})",
                [_to_tuple(r) for r in upserts],
            )
            db.executemany("DELETE FROM engrams WHERE id = ?", [(i,) for i in deletes])
            rewritten = [(r.id,) for r in upserts] + [(i,) for i in deletes]
            db.executemany("DELETE FROM accesses WHERE id = ?", rewritten)  # base now or gone
            self._write_passages(db, upserts, deletes)
            for (user_id, key), value in (settings or {}).items():
                db.execute("INSERT OR REPLACE INTO settings VALUES (?,?,?)", (user_id, key, value))
            revisions = {}
            for user_id in bump:
                db.execute(
                    "INSERT INTO revisions VALUES (?, 1) "
                    "ON CONFLICT(user_id) DO UPDATE SET rev = rev + 1",
                    (user_id,),
                )
                revisions[user_id] = self._revision(db, user_id)
            self._log(db, events)
        return revisions

    @staticmethod
    def _write_passages(
        db: sqlite3.Connection, upserts: list[EngramRow], deletes: list[str]
    ) -> None:
        """Passages live in their own table (one row per long turn), replaced only by a write
        that brings new ones and deleted with their engram."""
        replaced = [r for r in upserts if r.passages is not None]
        gone = [(r.id,) for r in replaced] + [(i,) for i in deletes]
        db.executemany("DELETE FROM passages WHERE engram_id = ?", gone)
        db.executemany(
            "INSERT INTO passages VALUES (?,?,?,?)",
            [
                (r.id, r.user_id, r.passages.spans.astype(np.int64).tobytes(),
                 r.passages.vectors.astype(np.float32).tobytes())
                for r in replaced
                if len(r.passages)
            ],
        )  # fmt: skip

    def append_audit(self, events: list[AuditEvent]) -> None:
        with self._tx() as db:
            self._log(db, events)

    def touch(self, accesses: Accesses, events: list[AuditEvent]) -> None:
        with self._tx() as db:
            self._touch(db, accesses, events)

    def _touch(self, db: sqlite3.Connection, accesses: Accesses, events: list[AuditEvent]) -> None:
        db.executemany(_TOUCH, [(i, n, ts) for i, (n, ts) in accesses.items()])
        self._log(db, events)

    def get(self, user_id: str, ids: list[str]) -> list[EngramRow]:
        return self.get_many({user_id: ids})[user_id]

    def get_many(self, wanted: dict[str, list[str]]) -> dict[str, list[EngramRow]]:
        return self._get_many(wanted, _SELECT)

    def records_many(self, wanted: dict[str, list[str]]) -> dict[str, list[EngramRow]]:
        return self._get_many(wanted, _RECORD)

    def _get_many(self, wanted: dict[str, list[str]], columns: str) -> dict[str, list[EngramRow]]:
        ids = [i for listed in wanted.values() for i in listed]
        found: dict[str, tuple] = {}
        for start in range(0, len(ids), _IDS_PER_READ):
            part = ids[start : start + _IDS_PER_READ]
            marks = ",".join("?" * len(part))
            # By primary key only (the planner may otherwise walk the user index), then the
            # scope check below.
            sql = f"SELECT {columns} FROM {_JOINED} WHERE e.id IN ({marks})"
            found.update((r[0], r) for r in self._read(sql, tuple(part)))
        mine = {user_id: [found.get(i) for i in listed] for user_id, listed in wanted.items()}
        return {
            user_id: [_from_tuple(r) for r in rows if r is not None and r[1] == user_id]
            for user_id, rows in mine.items()
        }

    def scan(self, user_id: str) -> Iterator[EngramRow]:
        rows = self._read(
            f"SELECT {_SELECT} FROM {_JOINED} WHERE e.user_id = ? ORDER BY e.created_ts, e.id",
            (user_id,),
        )
        stored = self._read(
            "SELECT engram_id, spans, vectors FROM passages WHERE user_id = ?", (user_id,)
        )
        passages = {engram_id: (spans, vectors) for engram_id, spans, vectors in stored}
        return (_with_passages(_from_tuple(r), passages.get(r[0])) for r in rows)

    def revision(self, user_id: str) -> int:
        row = self._read("SELECT rev FROM revisions WHERE user_id = ?", (user_id,))
        return row[0][0] if row else 0

    def revisions(self, user_ids: list[str]) -> dict[str, int]:
        marks = ",".join("?" * len(user_ids))
        sql = f"SELECT user_id, rev FROM revisions WHERE user_id IN ({marks})"
        stored = dict(self._read(sql, tuple(user_ids))) if user_ids else {}
        return {user_id: stored.get(user_id, 0) for user_id in user_ids}

    def users(self) -> list[str]:
        return [r[0] for r in self._read("SELECT DISTINCT user_id FROM engrams ORDER BY user_id")]

    def scrub(self) -> None:
        """Rewrite the file without free pages and empty the WAL, so bytes of replaced rows do
        not stay on disk (used after re-sealing a store)."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.execute("VACUUM")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
        self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the WAL into the file and truncate it to zero bytes, so the pages a delete
        replaced (which the WAL still holds) leave the disk; a reader in another process may
        make SQLite skip it (then the next checkpoint does it)."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def has_rows(self) -> bool:
        return bool(self._read("SELECT 1 FROM engrams LIMIT 1"))

    def setting(self, user_id: str, key: str) -> str | None:
        row = self._read("SELECT value FROM settings WHERE user_id = ? AND key = ?", (user_id, key))
        return row[0][0] if row else None

    def audit_events(self, user_id: str | None = None) -> list[AuditEvent]:
        if user_id is None:
            return _events(self._read("SELECT * FROM audit ORDER BY seq"))
        return _events(self._read(f"{_USER_AUDIT} ORDER BY seq", (user_id,)))

    def audit_after(self, user_id: str, after: int) -> list[AuditEvent] | None:
        """Through the audit_user index: the skipped entries are neither read nor decoded, nor
        are other users'."""
        rows = self._read(f"{_USER_AUDIT} ORDER BY seq LIMIT -1 OFFSET ?", (user_id, after))
        if rows or not after:
            return _events(rows)
        (count,) = self._read("SELECT COUNT(*) FROM audit WHERE user_id = ?", (user_id,))[0]
        return None if count < after else []

    def close(self) -> None:
        with self._lock:
            self._db.close()


_USER_AUDIT = "SELECT * FROM audit WHERE user_id = ?"


def _events(rows: list[tuple]) -> list[AuditEvent]:
    return [
        AuditEvent(r[2], r[3], json.loads(r[4]), json.loads(r[5]), r[1], r[0], r[6], r[7])
        for r in rows
    ]
