"""What encryption hides beyond text: tag hashes are keyed per user (two users' equal tags cannot
be linked), setting values (learned fusion weights, consent) are sealed, and stores encrypted
before per-user tag keys still open, search, and can be moved onto them."""

from __future__ import annotations

import sqlite3

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.crypto import Cipher, generate_key
from engram_agents.store.errors import EncryptionError
from engram_agents.store.rows import Codec

TEXT = "Zanzibar trip with Priya in May"


def _tags(path, user_id: str) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT tags FROM engrams WHERE user_id = ?", (user_id,)).fetchall()
    return {t for (tags,) in rows for t in tags.split("\n")}


def _settings(path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(path) as db:
        return {(u, k): v for u, k, v in db.execute("SELECT user_id, key, value FROM settings")}


def test_equal_tags_of_two_users_hash_differently_and_still_filter(tmp_path, hashing):
    path = tmp_path / "m.db"
    mem = EngramMemory(path, encoder=hashing, encryption_key=generate_key())
    ids = {user: mem.remember(TEXT, user).id for user in ("ana", "bo")}
    ana, bo = _tags(path, "ana"), _tags(path, "bo")
    assert len(ana) >= 3 and ana.isdisjoint(bo)
    assert all(t.startswith("h:") for t in ana | bo)
    for user in ("ana", "bo"):
        hits = mem.recall("Zanzibar", user, tags=["name:priya"])
        assert [h.engram.id for h in hits] == [ids[user]]
        assert "kw:zanzibar" in hits[0].matched_tags


def test_setting_values_are_sealed(tmp_path, hashing):
    path = tmp_path / "m.db"
    mem = EngramMemory(path, encoder=hashing, encryption_key=(key := generate_key()))
    engram = mem.remember(TEXT, "ana")
    mem.recall("Zanzibar", "ana")
    weights = mem.feedback(engram.id, "ana", useful=True)
    mem.consolidate("ana")
    mem.set_consent("ana", False)
    stored = _settings(path)
    for name in ("fusion_weights", "last_consolidation", "consent"):
        value = stored["ana", name]
        assert value.startswith("sealed:") and "withdrawn" not in value and "{" not in value
    assert stored["", "tag_keys"] == "per-user"  # the scheme itself stays readable
    reopened = EngramMemory(path, encoder=hashing, encryption_key=key)
    assert reopened.store.weights("ana") == weights and not reopened.consent("ana")


def _legacy_store(path, hashing, key: str) -> dict[str, str]:
    """An encrypted store as made before per-user tag keys: one tag key, plaintext settings."""
    mem = EngramMemory(path, encoder=hashing, encryption_key=key)
    ids = {user: mem.remember(TEXT, user).id for user in ("ana", "bo")}
    legacy = Codec(Cipher(key), per_user_tags=False)
    backend = mem.store.backend
    for user, engram_id in ids.items():
        row = backend.get(user, [engram_id])[0]
        backend.write([legacy.to_row(mem.store.codec.to_engram(row), row.vector)], [], [], {user})
    mem.close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM settings WHERE key = 'tag_keys'")
        db.execute("INSERT INTO settings VALUES ('ana', 'consent', 'withdrawn')")
    return ids


def test_a_store_encrypted_before_per_user_tag_keys_opens_and_moves_onto_them(tmp_path, hashing):
    path, key = tmp_path / "m.db", generate_key()
    ids = _legacy_store(path, hashing, key)
    assert _tags(path, "ana") == _tags(path, "bo")  # linkable, as the old scheme was
    old = EngramMemory(path, encoder=hashing, encryption_key=key)
    assert [h.engram.id for h in old.recall("Zanzibar", "bo", tags=["name:priya"])] == [ids["bo"]]
    assert not old.consent("ana")  # a plaintext value written before sealing is still read
    old.close()

    with pytest.raises(EncryptionError, match="not encrypted with this key"):
        EngramMemory.key_tags_per_user(path, generate_key())
    assert EngramMemory.key_tags_per_user(path, key) == 2
    assert _tags(path, "ana").isdisjoint(_tags(path, "bo"))
    new = EngramMemory(path, encoder=hashing, encryption_key=key)
    for user in ("ana", "bo"):
        hits = new.recall("Zanzibar", user, tags=["name:priya"])
        assert [h.engram.id for h in hits] == [ids[user]]
    assert new.verify_audit() > 0
    with pytest.raises(EncryptionError, match="already keys tags per user"):
        EngramMemory.key_tags_per_user(path, key)
