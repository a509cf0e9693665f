"""The storage interface both backends implement. Every write is one call carrying the rows, the
deletions and the audit events together, and is conditional on the revisions its caller read: a
writer that read stale rows gets `ConflictError` instead of overwriting a newer change (a delete
included) with what it read."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Any

from engram_agents.store.rows import AuditEvent, EngramRow

# Engram id -> (how many recalls returned it, the time of the last one).
Accesses = dict[str, tuple[int, float]]


class Backend(abc.ABC):
    """Rows by user, a per-user revision counter, small per-user settings and the audit log."""

    @abc.abstractmethod
    def write(
        self,
        upserts: list[EngramRow],
        deletes: list[str],
        events: list[AuditEvent],
        bump: set[str],
        settings: dict[tuple[str, str], str] | None = None,
        expect: dict[str, int] | None = None,
    ) -> dict[str, int]:
        """Apply everything or nothing; bump the revisions of users in `bump` and return them.
        Raise `ConflictError` and change nothing if a user's revision differs from `expect`."""

    def touch_and_write(
        self, accesses: Accesses, touch_events: list[AuditEvent], *write: Any
    ) -> dict[str, int] | None:
        """`touch(accesses, touch_events)` then `write(*write)` in one transaction (one commit
        instead of two for a write that follows buffered recalls), all or nothing; None where
        the backend cannot, and then nothing was done."""
        return None

    @abc.abstractmethod
    def append_audit(self, events: list[AuditEvent]) -> None:
        """Append events that change no row (reads); still chained."""

    @abc.abstractmethod
    def touch(self, accesses: Accesses, events: list[AuditEvent]) -> None:
        """Count activations of these rows (recalls) and log the reads; no revision bump."""

    @abc.abstractmethod
    def get(self, user_id: str, ids: list[str]) -> list[EngramRow]: ...

    @abc.abstractmethod
    def scan(self, user_id: str) -> Iterator[EngramRow]: ...

    @abc.abstractmethod
    def revision(self, user_id: str) -> int: ...

    def get_many(self, wanted: dict[str, list[str]]) -> dict[str, list[EngramRow]]:
        """`get` for several users at once (a batch of recalls reads its hits in one go)."""
        return {user_id: self.get(user_id, ids) for user_id, ids in wanted.items()}

    def records_many(self, wanted: dict[str, list[str]]) -> dict[str, list[EngramRow]]:
        """`get_many` for rows that are only decoded into records (`Codec.to_engram`, as
        recall's hits are): a backend may leave their tags and vector empty to read less."""
        return self.get_many(wanted)

    def revisions(self, user_ids: list[str]) -> dict[str, int]:
        """`revision` for several users at once."""
        return {user_id: self.revision(user_id) for user_id in user_ids}

    @abc.abstractmethod
    def has_rows(self) -> bool:
        """Whether any user has an engram stored (an empty store may still turn on encryption)."""

    @abc.abstractmethod
    def setting(self, user_id: str, key: str) -> str | None: ...

    @abc.abstractmethod
    def audit_events(self, user_id: str | None = None) -> list[AuditEvent]:
        """The log in order (all users when None)."""

    def audit_after(self, user_id: str, after: int) -> list[AuditEvent] | None:
        """The user's entries past the first `after` of them, in order; None when the user has
        fewer than `after` (the log was replaced). A backend that can skip without reading
        overrides it: a client's model polls it (`EngramMemory.erasures`)."""
        events = self.audit_events(user_id)
        return None if after > len(events) else events[after:]

    @abc.abstractmethod
    def checkpoint(self) -> None:
        """Make deleted data leave the backend's own logs (SQLite: empty the WAL)."""

    @abc.abstractmethod
    def close(self) -> None: ...
