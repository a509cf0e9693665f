"""Tenant API keys in one small SQLite file.

A key reads `ek_<id>_<secret>`. Only an HMAC-SHA256 of the secret under a per-key random salt is
stored, and it is compared in constant time, so the file alone opens nothing. A key that passed
is remembered (by its SHA-256) only until the file changes: every check reads the file's header,
whose change counter SQLite bumps on each commit, so a key revoked by `engram-agents keys revoke`
stops working at once in every `serve` process that shares the file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from engram_agents.errors import AuthenticationError, InvalidInputError
from engram_agents.recent import Recent
from engram_agents.server.tenancy import Principal, check_path_id
from engram_agents.store.errors import NotFoundError

PREFIX = "ek_"
TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_KEY = re.compile(r"ek_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
CACHED_KEYS = 1024
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    users TEXT,
    name TEXT NOT NULL,
    salt BLOB NOT NULL,
    digest BLOB NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)"""


class KeyInfo(BaseModel):
    """What `keys list` shows about a key: never its secret."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    users: list[str] | None
    name: str
    created_at: datetime
    revoked_at: datetime | None = None


def _digest(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode("ascii"), hashlib.sha256).digest()


class KeyStore:
    """Create, list, revoke and check API keys (`path` is created, readable by its owner only)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        with self._db() as db:
            db.execute(_SCHEMA)
        self._lock = threading.Lock()
        self._stamp: tuple[int, ...] | None = None
        self._passed: Recent[bytes, Principal] = Recent(CACHED_KEYS)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            yield db

    def create(self, tenant: str, users: list[str] | None = None, name: str = "") -> str:
        """A new key for `tenant` (all of its users, or only `users`); returns the key itself,
        which is shown once and never stored."""
        if not isinstance(tenant, str) or not TENANT.fullmatch(tenant):
            raise InvalidInputError(
                f"tenant must be 1-63 characters of a-z, 0-9, '_' or '-' (starting with a letter"
                f" or digit), got {tenant!r}"
            )
        if users is not None:
            if not users:
                raise InvalidInputError("users must name at least one user (or be omitted: all)")
            users = [check_path_id(u) for u in users]
        key_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), os.urandom(16)
        with self._db() as db:
            db.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    key_id,
                    tenant,
                    None if users is None else json.dumps(users),
                    name,
                    salt,
                    _digest(salt, secret),
                    datetime.now(UTC).isoformat(),
                ),
            )
        return f"{PREFIX}{key_id}_{secret}"

    def list(self, tenant: str | None = None) -> list[KeyInfo]:
        query = "SELECT id, tenant, users, name, created_at, revoked_at FROM api_keys"
        with self._db() as db:
            rows = db.execute(query + " ORDER BY created_at").fetchall()
        return [
            KeyInfo(
                id=r[0],
                tenant=r[1],
                users=None if r[2] is None else json.loads(r[2]),
                name=r[3],
                created_at=r[4],
                revoked_at=r[5],
            )
            for r in rows
            if tenant is None or r[1] == tenant
        ]

    def revoke(self, key_id: str) -> None:
        with self._db() as db:
            changed = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(), key_id),
            ).rowcount
        if not changed:
            raise NotFoundError(f"no active key {key_id!r} in {self.path}")

    def authenticate(self, key: str | None) -> Principal:
        """The tenant and users a key grants; the same error for a missing, malformed, unknown,
        wrong or revoked key, so a caller learns nothing about which it was."""
        stamp = self._file_stamp()  # before the query: a change during it drops the result
        principal = self._recalled(key, stamp)
        if principal is None:
            principal = self._check(key)
            self._keep(key, stamp, principal)
        return principal

    def cached(self, key: str | None) -> Principal | None:
        """What `authenticate` would grant, if the key passed since the file last changed; None
        otherwise. It reads only the file's first bytes (no database, no hashing of secrets), so
        the server calls it on its event loop and hops to a thread only when it says None."""
        return self._recalled(key, self._file_stamp())

    def _file_stamp(self) -> tuple[int, ...] | None:
        """Changes whenever the key file does: its inode, size and mtime, and the header's change
        counter (a commit within one mtime tick still moves it). None, so nothing is cached, for
        a WAL database, whose commits leave the main file's header alone."""
        try:
            with open(self.path, "rb") as file:
                head, info = file.read(28), os.fstat(file.fileno())
        except OSError:
            return None
        if len(head) < 28 or head[18] == 2:
            return None
        counter = int.from_bytes(head[24:28], "big")
        return (info.st_ino, info.st_size, info.st_mtime_ns, counter)

    def _recalled(self, key: str | None, stamp: tuple[int, ...] | None) -> Principal | None:
        if not key or stamp is None:
            return None
        with self._lock:
            if stamp != self._stamp:
                self._stamp, self._passed = stamp, Recent(CACHED_KEYS)
                return None
            return self._passed.get(_fingerprint(key))

    def _keep(self, key: str, stamp: tuple[int, ...] | None, principal: Principal) -> None:
        with self._lock:
            if stamp is None or stamp != self._stamp:
                return  # the file changed since this check began (or is not cacheable)
            self._passed.put(_fingerprint(key), principal)

    def _check(self, key: str | None) -> Principal:
        match = _KEY.fullmatch(key or "")
        row = None
        if match:
            with self._db() as db:
                row = db.execute(
                    "SELECT tenant, users, salt, digest, revoked_at FROM api_keys WHERE id = ?",
                    (match.group(1),),
                ).fetchone()
        salt, digest = (row[2], row[3]) if row else (b"\0" * 16, b"\0" * 32)
        # Always compute and compare, so an unknown id costs as long as a wrong secret.
        ok = hmac.compare_digest(_digest(salt, match.group(2) if match else "x"), digest)
        if not (ok and row and row[4] is None):
            raise AuthenticationError("missing, invalid or revoked API key")
        users = None if row[1] is None else tuple(json.loads(row[1]))
        return Principal(tenant=row[0], users=users)


def _fingerprint(key: str) -> bytes:
    """What the cache is keyed by: never the key itself."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
