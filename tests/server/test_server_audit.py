"""`GET /v1/audit/verify` checks the whole store's hash chain but tells a key only about its own
users: the count of their entries, never the store's total (which would show a tenant how busy
the others are), and a broken chain without the position or action of another tenant's entry."""

from __future__ import annotations

import sqlite3

import pytest

from engram_agents import EngramMemory
from engram_agents.server import create_app
from engram_agents.store.errors import AuditIntegrityError


def verify(server, key: str) -> dict:
    with server.client(key) as client:
        response = client.get("/v1/audit/verify")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_key_counts_only_the_entries_of_its_own_users(server):
    with EngramMemory.remote(server.url, api_key=server.acme) as acme:
        acme.remember("Alice likes tea", "alice")
        acme.remember("Bob likes chess", "bob")
    with EngramMemory.remote(server.url, api_key=server.globex) as globex:
        for n in range(5):
            globex.remember(f"Globex fact number {n}", "carol")
    total = server.memory.verify_audit()
    assert total == 7  # one "remember" each
    assert verify(server, server.acme) == {"verified": True, "entries": 2}
    assert verify(server, server.globex) == {"verified": True, "entries": 5}
    assert verify(server, server.acme_alice) == {"verified": True, "entries": 1}
    with EngramMemory.remote(server.url, api_key=server.globex) as globex:
        assert globex.verify_audit() == 5  # the remote client's int is the tenant's count too


def test_an_open_server_counts_every_entry(tmp_path, serve_app):
    from engram_agents.store.encoders import HashingEncoder

    memory = EngramMemory(tmp_path / "open.db", encoder=HashingEncoder(256))
    url = serve_app(create_app(memory))
    with EngramMemory.remote(url) as remote:
        remote.remember("one", "ana")
        remote.remember("two", "ben")
        assert remote.verify_audit() == 2 == memory.verify_audit()
    memory.close()


def test_a_broken_chain_names_no_other_tenants_entry(server):
    with EngramMemory.remote(server.url, api_key=server.globex) as globex:
        globex.remember("Globex secret plan", "carol")
    with EngramMemory.remote(server.url, api_key=server.acme) as acme:
        acme.remember("Alice likes tea", "alice")
        with sqlite3.connect(server.memory.store.backend.path) as db:
            db.execute("UPDATE audit SET action = 'forget' WHERE seq = 1")  # globex's entry
        with server.client(server.acme) as client:
            response = client.get("/v1/audit/verify")
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["type"] == "AuditIntegrityError"
        assert "hash-chain check" in error["message"]
        assert "1" not in error["message"] and "forget" not in error["message"]
        with pytest.raises(AuditIntegrityError, match="hash-chain check"):
            acme.verify_audit()
    with pytest.raises(AuditIntegrityError, match=r"audit entry 1 \(forget\)"):
        server.memory.verify_audit()  # the operator, in-process, is told where
