"""Turning encryption on for a store that already holds plaintext engrams: one transaction
re-seals every row (text and metadata encrypted, tags keyed), then the file is rewritten so no
plaintext page survives in free space or the WAL. Opening such a store with a key is refused
instead, so a store is never half-converted."""

from __future__ import annotations

from pathlib import Path

from engram_agents.store.backends.sqlite import SQLiteBackend
from engram_agents.store.crypto import Cipher
from engram_agents.store.errors import EncryptionError
from engram_agents.store.rows import AuditEvent, Codec


def encrypt_sqlite_store(path: str | Path, cipher: Cipher) -> int:
    """Encrypt every engram of the SQLite store at `path`; return how many were sealed. Run it
    while no other process writes to the store (one that does makes it fail, changing nothing)."""
    if not Path(path).is_file():
        raise EncryptionError(f"no engram store at {str(path)!r} to encrypt")
    backend = SQLiteBackend(path)
    try:
        if backend.setting("", "cipher") is not None:
            raise EncryptionError(f"the store at {str(path)!r} is already encrypted")
        plain, sealed = Codec(None), Codec(cipher)
        users = backend.users()
        read_at = {user_id: backend.revision(user_id) for user_id in users}
        rows = [
            sealed.to_row(plain.to_engram(row), row.vector)
            for user_id in users
            for row in backend.scan(user_id)
        ]
        event = AuditEvent("", "encrypt_store", [], {"engrams": len(rows)})
        backend.write(
            rows, [], [event], set(users), {("", "cipher"): cipher.fingerprint}, expect=read_at
        )
        backend.scrub()
    finally:
        backend.close()
    return len(rows)
