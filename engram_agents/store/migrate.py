"""Re-sealing a SQLite store in place: encrypting one that holds plaintext engrams, or moving an
encrypted one made before per-user tag keys onto them. One transaction re-seals every row (text
and metadata encrypted, tags hashed under each user's key), then the file is rewritten so no old
page survives in free space or the WAL. Opening a plaintext store with a key is refused instead,
so a store is never half-converted.

Stores made before passages (store.passages) gain the `passages` table when opened; their long
turns are read through the encoder's window alone until `add_passages` reads them again. Sketch
rules change too (a speaker's name tag, chat-role marks): `resketch` applies today's rules to
engrams written under older ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engram_agents.store.backends.sqlite import SQLiteBackend
from engram_agents.store.crypto import Cipher
from engram_agents.store.encoders import Encoder
from engram_agents.store.errors import EncryptionError, InvalidInputError
from engram_agents.store.passages import encode_turns, encoder_window
from engram_agents.store.referents import SessionNames
from engram_agents.store.rows import TAGS_PER_USER, AuditEvent, Codec, EngramRow
from engram_agents.store.sketch import engram_sketch, holds, role_tag, speaker_tag


def encrypt_sqlite_store(path: str | Path, cipher: Cipher) -> int:
    """Encrypt every engram of the SQLite store at `path`; return how many were sealed. Run it
    while no other process writes to the store (one that does makes it fail, changing nothing)."""

    def check(backend: SQLiteBackend) -> Codec:
        if backend.setting("", "cipher") is not None:
            raise EncryptionError(f"the store at {str(path)!r} is already encrypted")
        return Codec(None)

    return _reseal(path, cipher, check, "encrypt_store")


def key_tags_per_user(path: str | Path, cipher: Cipher) -> int:
    """Re-hash the tags of an encrypted store made before per-user tag keys (whose equal tags
    hash equally across users) under each user's own key; returns how many engrams changed."""

    def check(backend: SQLiteBackend) -> Codec:
        if backend.setting("", "cipher") != cipher.fingerprint:
            raise EncryptionError(f"the store at {str(path)!r} is not encrypted with this key")
        if backend.setting("", "tag_keys") == TAGS_PER_USER:
            raise EncryptionError(f"the store at {str(path)!r} already keys tags per user")
        return Codec(cipher, per_user_tags=False)

    return _reseal(path, cipher, check, "key_tags_per_user")


def _reseal(path: str | Path, cipher: Cipher, check, action: str) -> int:
    if not Path(path).is_file():
        raise EncryptionError(f"no engram store at {str(path)!r} to re-seal")
    backend = SQLiteBackend(path)
    try:
        source, sealed = check(backend), Codec(cipher)
        users = backend.users()
        read_at = {user_id: backend.revision(user_id) for user_id in users}
        rows = [
            sealed.to_row(source.to_engram(row), row.vector)
            for user_id in users
            for row in backend.scan(user_id)
        ]
        event = AuditEvent("", action, [], {"engrams": len(rows)})
        scheme = {("", "cipher"): cipher.fingerprint, ("", "tag_keys"): TAGS_PER_USER}
        backend.write(rows, [], [event], set(users), scheme, expect=read_at)
        backend.scrub()
    finally:
        backend.close()
    return len(rows)


def add_passages(
    path: str | Path, encoder: Encoder, passage_tokens: int = 128, cipher: Cipher | None = None
) -> int:
    """Give the long turns of the SQLite store at `path` that have no passages theirs (with the
    store's own encoder; `cipher` for an encrypted store); returns how many turns gained them.
    Vectors, tags and texts stay as they are. Run it while no other process writes."""
    window = encoder_window(encoder)
    if window is None:
        raise InvalidInputError(f"encoder {encoder.name} does not say its window (max_tokens)")

    def check(backend: SQLiteBackend) -> None:
        kind = backend.setting("", "passage_vectors")
        if kind not in (None, "model"):  # its passages are scored as that kind
            raise InvalidInputError(
                f"the store at {str(path)!r} keeps passage_vectors={kind!r}; add_passages reads "
                "passages with the model only (nothing was changed)"
            )

    def change(codec: Codec, rows: list[EngramRow]) -> list[EngramRow]:
        rows = [r for r in rows if not len(r.passages)]
        texts = [codec.to_engram(r).text for r in rows]
        rows = [r for r, t in zip(rows, texts, strict=True) if len(t) > window]
        texts = [t for t in texts if len(t) > window]
        _, passages = encode_turns(encoder, texts, passage_tokens)
        changed = []
        for row, found in zip(rows, passages, strict=True):
            if len(found):
                found.vectors[0] = row.vector  # the window is what the stored vector read
                row.passages = found
                changed.append(row)
        return changed

    return _rewrite(path, cipher, "add_passages", "to add passages to", change, check)


def resketch(path: str | Path, cipher: Cipher | None = None) -> int:
    """Give every engram of the SQLite store at `path` the sketch today's rules make of it
    (`sketch.engram_sketch`: a named speaker's name tag, chat-role marks, the kinds of answer
    it holds, the names a pronoun refers to (store.referents), ...); returns how many changed.
    Texts, vectors and passages stay. A merged engram keeps its sources' tags and gains only
    the speaker's and the marks of what they hold; a long turn written with `passage_keywords`
    gets every keyword back. Run it while no other process writes."""

    def change(codec: Codec, rows: list[EngramRow]) -> list[EngramRow]:
        changed = []
        sessions: dict[tuple[str, str], SessionNames] = {}
        # each session's turns in the order they were said, as the writer reads them
        for row in sorted(rows, key=lambda r: (r.user_id, r.session_id or "", r.created_ts)):
            engram = codec.to_engram(row)
            who = engram.speaker
            before = sorted(engram.sketch)
            if any(v.action == "merged" for v in engram.history):  # its sources' tags: add only
                own = set(engram.sketch) - set(speaker_tag(who))
                engram.sketch = sorted({*own, *holds(own), *speaker_tag(who), *role_tag(who)})
            else:
                engram.sketch = engram_sketch(engram.text, engram.when, who)
            if row.session_id:
                names = sessions.setdefault((row.user_id, row.session_id), SessionNames())
                engram.sketch = sorted({*engram.sketch, *names.referred(engram)})
            if engram.sketch != before:
                changed.append(codec.to_row(engram, row.vector, row.passages))
        return changed

    return _rewrite(path, cipher, "resketch", "to re-sketch", change)


def _rewrite(
    path: str | Path,
    cipher: Cipher | None,
    action: str,
    purpose: str,
    change: Callable[[Codec, list[EngramRow]], list[EngramRow]],
    check: Callable[[SQLiteBackend], None] | None = None,
) -> int:
    """Read every engram row of the SQLite store at `path`, write back the rows `change`
    returns in one conditional, audited write; returns how many it wrote. `check` may refuse
    the store (by raising) once it is open, before anything is read."""
    if not Path(path).is_file():
        raise InvalidInputError(f"no engram store at {str(path)!r} {purpose}")
    backend = SQLiteBackend(path)
    try:
        if check is not None:
            check(backend)
        codec = Codec(cipher, per_user_tags=backend.setting("", "tag_keys") == TAGS_PER_USER)
        users = backend.users()
        read_at = {user_id: backend.revision(user_id) for user_id in users}
        changed = change(codec, [r for u in users for r in backend.scan(u)])
        if changed:
            event = AuditEvent("", action, [], {"engrams": len(changed)})
            backend.write(changed, [], [event], {r.user_id for r in changed}, expect=read_at)
    finally:
        backend.close()
    return len(changed)
