"""Encryption at rest and the hash-chained audit log."""

from __future__ import annotations

import sqlite3

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.crypto import KEY_ENV, generate_key
from engram_agents.store.errors import AuditIntegrityError, EncryptionError


def test_encrypted_store_hides_text_and_tags_but_still_filters(tmp_path, hashing):
    key = generate_key()
    path = tmp_path / "m.db"
    mem = EngramMemory(path, encoder=hashing, encryption_key=key)
    e = mem.remember("Zanzibar trip with Priya in May", "u", event_time="2024-05-03")
    mem.remember("Quarterly taxes are due", "u")
    raw = path.read_bytes() + (tmp_path / "m.db-wal").read_bytes()
    assert b"Zanzibar" not in raw and b"zanzibar" not in raw and b"priya" not in raw
    hits = mem.recall("Zanzibar", "u", tags=["name:priya"])
    assert [h.engram.id for h in hits] == [e.id]
    assert "kw:zanzibar" in hits[0].matched_tags  # explanations stay readable to the key holder
    again = EngramMemory(path, encoder=hashing, encryption_key=key)
    assert again.get(e.id, "u").text == e.text


def test_key_from_environment_and_wrong_or_missing_key(tmp_path, hashing, monkeypatch):
    path = tmp_path / "m.db"
    monkeypatch.setenv(KEY_ENV, generate_key())
    EngramMemory(path, encoder=hashing).remember("secret plans", "u")
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(EncryptionError, match="encrypted"):
        EngramMemory(path, encoder=hashing)
    with pytest.raises(EncryptionError, match="wrong encryption key"):
        EngramMemory(path, encoder=hashing, encryption_key=generate_key())
    with pytest.raises(EncryptionError, match="32 bytes"):
        EngramMemory(path, encoder=hashing, encryption_key="c2hvcnQ=")


def test_tampered_ciphertext_is_detected(tmp_path, hashing):
    key = generate_key()
    path = tmp_path / "m.db"
    mem = EngramMemory(path, encoder=hashing, encryption_key=key)
    e = mem.remember("the vault code", "u")
    db = sqlite3.connect(path)
    payload = bytearray(db.execute("SELECT payload FROM engrams").fetchone()[0])
    payload[-1] ^= 1
    db.execute("UPDATE engrams SET payload = ?", (bytes(payload),))
    db.commit()
    db.close()
    with pytest.raises(EncryptionError, match="altered"):
        EngramMemory(path, encoder=hashing, encryption_key=key).get(e.id, "u")


def test_audit_chain_detects_edits_and_deletions(tmp_path, hashing):
    path = tmp_path / "m.db"
    mem = EngramMemory(path, encoder=hashing)
    e = mem.remember("audited fact", "u")
    mem.recall("audited", "u")
    mem.delete(e.id, "u")
    assert mem.verify_audit() == 3
    db = sqlite3.connect(path)
    db.execute("UPDATE audit SET action = 'get' WHERE seq = 3")
    db.commit()
    with pytest.raises(AuditIntegrityError, match="entry 3"):
        mem.verify_audit()
    db.execute("DELETE FROM audit WHERE seq = 2")
    db.commit()
    db.close()
    with pytest.raises(AuditIntegrityError, match="entry 2"):
        mem.verify_audit()


def test_a_key_on_a_plaintext_store_is_refused_and_changes_nothing(make_memory):
    plain = make_memory()
    e = plain.remember("the spare key is under the blue pot", "u")
    with pytest.raises(EncryptionError, match=r"unencrypted engrams.*nothing was changed"):
        make_memory(encryption_key=generate_key()).list("u")
    again = make_memory()  # still readable without a key: nothing was half-converted
    assert [x.text for x in again.list("u")] == [e.text]
    assert again.store.backend.setting("", "cipher") is None


def test_a_key_on_an_empty_store_turns_encryption_on(tmp_path, hashing):
    path = tmp_path / "m.db"
    EngramMemory(path, encoder=hashing).close()  # created, nothing stored yet
    key = generate_key()
    EngramMemory(path, encoder=hashing, encryption_key=key).remember("the vault code", "u")
    with pytest.raises(EncryptionError, match="encrypted"):
        EngramMemory(path, encoder=hashing)
    assert b"vault" not in path.read_bytes() + (tmp_path / "m.db-wal").read_bytes()


def test_encrypt_store_seals_every_engram_and_scrubs_the_plaintext(tmp_path, hashing):
    path = tmp_path / "m.db"
    plain = EngramMemory(path, encoder=hashing)
    kept = plain.remember("Zanzibar trip with Priya in May", "u", event_time="2024-05-03")
    plain.remember("the other user's Zanzibar note", "v")
    plain.recall("Zanzibar", "u")  # an activation that must survive
    plain.delete(plain.remember("a Zanzibar plan that was dropped", "u").id, "u")
    plain.close()
    key = generate_key()
    assert EngramMemory.encrypt_store(path, key) == 2
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"Zanzibar" not in raw and b"zanzibar" not in raw and b"Priya" not in raw
    with pytest.raises(EncryptionError, match="encrypted"):
        EngramMemory(path, encoder=hashing)
    sealed = EngramMemory(path, encoder=hashing, encryption_key=key)
    got = sealed.get(kept.id, "u")
    assert (got.text, got.stats.activations) == (kept.text, 1)
    assert [h.engram.id for h in sealed.recall("Zanzibar", "u", tags=["name:priya"])] == [kept.id]
    assert sealed.verify_audit() > 0
    with pytest.raises(EncryptionError, match="already encrypted"):
        EngramMemory.encrypt_store(path, key)
