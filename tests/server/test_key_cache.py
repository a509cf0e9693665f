"""A key that passed is remembered only while the key file is unchanged: the server skips the
database for it, yet a revoke by another process (another `KeyStore` on the file) is seen at
the very next check."""

from __future__ import annotations

import sqlite3

import pytest

from engram_agents.errors import AuthenticationError
from engram_agents.server import keys as keys_module
from engram_agents.server.keys import KeyStore


def test_a_passed_key_is_cached_until_another_process_revokes_it(tmp_path):
    server, admin = KeyStore(tmp_path / "keys.db"), KeyStore(tmp_path / "keys.db")
    key = admin.create("acme", ["alice"])
    assert server.cached(key) is None  # never checked yet
    granted = server.authenticate(key)
    assert (granted.tenant, granted.users) == ("acme", ("alice",))
    assert server.cached(key) == granted
    admin.revoke(key.split("_")[1])
    assert server.cached(key) is None
    with pytest.raises(AuthenticationError):
        server.authenticate(key)


def test_a_new_key_of_another_process_works_at_once_and_refusals_are_not_cached(tmp_path):
    server, admin = KeyStore(tmp_path / "keys.db"), KeyStore(tmp_path / "keys.db")
    first = admin.create("acme")
    server.authenticate(first)
    second = admin.create("globex")
    assert server.authenticate(second).tenant == "globex"
    wrong = second[:-4] + ("AAAA" if not second.endswith("AAAA") else "BBBB")
    for key in (wrong, None, "", "garbage"):
        with pytest.raises(AuthenticationError):
            server.authenticate(key)
        assert server.cached(key) is None


def test_the_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(keys_module, "CACHED_KEYS", 2)
    store = KeyStore(tmp_path / "keys.db")
    made = [store.create("acme") for _ in range(3)]
    for key in made:
        store.authenticate(key)
    assert [store.cached(key) is not None for key in made] == [False, True, True]


def test_a_wal_key_file_is_checked_afresh_every_time(tmp_path):
    """In WAL mode a commit leaves the main file's header as it was: nothing is cached."""
    store = KeyStore(tmp_path / "keys.db")
    with sqlite3.connect(store.path) as db:
        db.execute("PRAGMA journal_mode=WAL")
    key = store.create("acme")
    assert store.authenticate(key).tenant == "acme"
    assert store.cached(key) is None
    KeyStore(tmp_path / "keys.db").revoke(key.split("_")[1])
    with pytest.raises(AuthenticationError):
        store.authenticate(key)
