"""Recall's access counts and audit entries, written behind in batches.

Every recall counts an activation of the engrams it returns and appends a `recall` entry to the
audit log. Written at once, that is a write transaction per recall (each hit's count is a small row
of its own, see backends.sqlite) that now and then pays a WAL checkpoint of many milliseconds: at
100k engrams the largest and least predictable part of a recall. `TouchBuffer` holds them in memory
and writes them in one transaction when `max_pending` recalls wait or the oldest has waited
`flush_s` seconds, before every other write or audit append (so the log keeps this process's
order), before the audit log is read (but for the erasure feed, see `audit_after`), a user's rows
are scanned or the backend checkpoints, and on close or at interpreter exit. Rows read in between
carry the waiting counts, so callers see what writing at once gives.
The timed writes come from one flusher thread that stays while recalls keep coming: a thread
started per flush would cost a recall a thread start, inside the store's lock, after each write.

What a crash costs: a process killed without closing loses the recalls still waiting (at most
`max_pending` of them, at most `flush_s` seconds' worth): their access counts and their audit
entries. Writes of engrams are never delayed. Other processes see the counts and entries once
flushed; an entry keeps the time of its recall, so in a log shared with other processes a batch
may carry times earlier than the entries before it (the hash chain does not depend on times)."""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engram_agents.store.backends.base import Accesses, Backend
from engram_agents.store.rows import AuditEvent, EngramRow

log = logging.getLogger(__name__)

IDLE_S = 5.0  # the flusher thread ends after this long with nothing waiting


class TouchBuffer(Backend):
    """Wraps a backend so that `touch` is written behind; everything else passes through."""

    def __init__(self, inner: Backend, flush_s: float, max_pending: int) -> None:
        self.inner = inner
        self.flush_s = flush_s
        self.max_pending = max_pending
        self._writing = threading.RLock()  # held whenever this buffer reaches `inner`
        self._waiting = threading.Lock()  # guards the pending state only (recall never blocks)
        self._accesses: Accesses = {}
        self._events: list[AuditEvent] = []
        self._in_flight = 0  # taken by a flush whose transaction has not committed yet
        self._wake = threading.Condition(self._waiting)  # a recall is waiting, or closing
        self._due: float | None = None  # when the oldest waiting recall must be written
        self._flusher: threading.Thread | None = None
        self._closed = False
        atexit.register(_flush_at_exit, weakref.ref(self))

    def __getattr__(self, name: str) -> Any:  # what one backend adds (path, scrub, users)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def pending(self) -> int:
        """Recalls whose counts and audit entries are not written yet (those a flush is writing
        right now included, so that zero means they are on disk)."""
        with self._waiting:
            return len(self._events) + self._in_flight

    def touch(self, accesses: Accesses, events: list[AuditEvent]) -> None:
        now = time.time()
        for event in events:
            event.ts = event.ts or now  # the entry keeps its recall's time, not the flush's
        with self._waiting:
            _merge(self._accesses, accesses)
            self._events += events
            full = len(self._events) >= self.max_pending
            if not full:
                self._arm()
        if full:
            self.flush()

    def _arm(self) -> None:
        """Have the waiting recalls written within `flush_s` (holding `_waiting`)."""
        if self._due is not None or self._closed:
            return
        self._due = time.monotonic() + self.flush_s
        if self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_when_due, name="engram-touch-flush", daemon=True
            )  # daemon: the atexit hook flushes what is left
            self._flusher.start()
        else:
            self._wake.notify()

    def _flush_when_due(self) -> None:
        with self._waiting:
            while not self._closed:
                if self._due is None:
                    if not self._wake.wait(IDLE_S) and self._due is None:
                        break  # idle: the next recall starts a new flusher
                    continue
                delay = self._due - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                self._waiting.release()
                try:
                    self._flush_in_background()
                finally:
                    self._waiting.acquire()
            self._flusher = None

    def flush(self) -> None:
        """Write every waiting count and audit entry in one transaction. On failure they stay
        waiting, ahead of newer ones, and the error reaches the caller."""
        with self._writing, self._taking() as (accesses, events):
            if events or accesses:
                self.inner.touch(accesses, events)

    @contextmanager
    def _taking(self) -> Iterator[tuple[Accesses, list[AuditEvent]]]:
        """The waiting recalls, taken to be written: still counted as pending until their
        transaction ends, and put back ahead of newer ones if it fails."""
        accesses, events = self._take()
        try:
            yield accesses, events
        except BaseException:
            self._put_back(accesses, events)
            raise
        finally:
            with self._waiting:
                self._in_flight = 0

    def _take(self) -> tuple[Accesses, list[AuditEvent]]:
        with self._waiting:
            taken = self._accesses, self._events
            self._accesses, self._events = {}, []
            self._in_flight = len(taken[1])
            self._due = None
        return taken

    def _put_back(self, accesses: Accesses, events: list[AuditEvent]) -> None:
        with self._waiting:
            self._accesses = _merge(accesses, self._accesses)
            self._events = events + self._events
            self._in_flight = 0
            self._arm()

    def _flush_in_background(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # kept waiting and retried when due again
            log.warning("writing %d buffered recall entries failed: %s", self.pending(), exc)

    def get(self, user_id: str, ids: list[str]) -> list[EngramRow]:
        return self.get_many({user_id: ids})[user_id]

    def get_many(self, wanted: dict[str, list[str]]) -> dict[str, list[EngramRow]]:
        with self._writing:
            return self._counted(self.inner.get_many(wanted))

    def records_many(self, wanted: dict[str, list[str]]) -> dict[str, list[EngramRow]]:
        with self._writing:
            return self._counted(self.inner.records_many(wanted))

    def _counted(self, got: dict[str, list[EngramRow]]) -> dict[str, list[EngramRow]]:
        """Rows just read with the waiting recalls' counts on them (holding `_writing`)."""
        with self._waiting:
            for rows in got.values():
                for row in rows:
                    if (waiting := self._accesses.get(row.id)) is not None:
                        row.activations += waiting[0]
                        row.last_access_ts = waiting[1]
        return got

    def write(self, upserts, deletes, events, bump, settings=None, expect=None) -> dict[str, int]:
        """The waiting recalls first, in the write's own transaction where the backend can."""
        with self._writing:
            with self._taking() as (accesses, touched):  # all or nothing: on failure they wait
                written = None
                if touched or accesses:
                    written = self.inner.touch_and_write(
                        accesses, touched, upserts, deletes, events, bump, settings, expect
                    )
                    if written is None:  # the backend cannot: a transaction each
                        self.inner.touch(accesses, touched)
            if written is not None:
                return written
            return self.inner.write(upserts, deletes, events, bump, settings, expect)

    def append_audit(self, events: list[AuditEvent]) -> None:
        with self._writing:
            self.flush()
            self.inner.append_audit(events)

    def scan(self, user_id: str) -> Iterator[EngramRow]:
        with self._writing:
            self.flush()
            return self.inner.scan(user_id)

    def audit_events(self, user_id: str | None = None) -> list[AuditEvent]:
        with self._writing:
            self.flush()
            return self.inner.audit_events(user_id)

    def audit_after(self, user_id: str, after: int) -> list[AuditEvent] | None:
        """Read without writing the waiting recalls: the erasure feed (its only reader) polls it
        often, and a flush there would cost a write transaction per poll. Nothing it returns
        can be waiting: only `recall` entries wait, and every erasure is a `write`, which puts
        the waiting ones in the log first. So each erasure's position is final when it is read,
        and the waiting recalls, written later, land past the cursor the reader was given."""
        return self.inner.audit_after(user_id, after)

    def checkpoint(self) -> None:
        with self._writing:
            self.flush()
            self.inner.checkpoint()

    def revision(self, user_id: str) -> int:
        return self.inner.revision(user_id)

    def revisions(self, user_ids: list[str]) -> dict[str, int]:
        return self.inner.revisions(user_ids)

    def has_rows(self) -> bool:
        return self.inner.has_rows()

    def setting(self, user_id: str, key: str) -> str | None:
        return self.inner.setting(user_id, key)

    def close(self) -> None:
        with self._writing:
            try:
                self.flush()
            finally:
                with self._waiting:
                    self._closed = True
                    self._wake.notify()
                self.inner.close()


def _merge(older: Accesses, newer: Accesses) -> Accesses:
    """Add `newer` into `older` (counts summed, the later time kept); returns `older`."""
    for engram_id, (count, ts) in newer.items():
        before = older.get(engram_id)
        older[engram_id] = (count + before[0], ts) if before else (count, ts)
    return older


def _flush_at_exit(ref: weakref.ref[TouchBuffer]) -> None:
    buffer = ref()
    if buffer is not None and not buffer._closed:
        try:
            buffer.flush()
        except Exception as exc:  # the interpreter is going away: say what was lost
            log.warning("buffered recall entries lost at exit: %s", exc)
