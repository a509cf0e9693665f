"""`EngramMemory.remote`: the same verbs, records and error types as in-process, sync and async.
The integrations' own suites run against it too (`local_and_remote` in tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import ssl
from datetime import UTC, datetime

import pytest

from engram_agents import EngramMemory
from engram_agents.errors import AccessDeniedError, AuthenticationError, InvalidInputError
from engram_agents.remote import RemoteMemory
from engram_agents.store.config import FusionWeights
from engram_agents.store.errors import (
    AuditIntegrityError,
    BackendUnavailableError,
    ConsentError,
    NotFoundError,
)
from engram_agents.store.records import Engram, Evidence, RecallHit, TimeRange
from engram_agents.store.reply_use import ReplyUse
from engram_agents.store.store import ConsolidationReport, MemoryItem


@pytest.fixture
def remote(server):
    with EngramMemory.remote(server.url, api_key=server.acme) as memory:
        yield memory


def test_every_verb_returns_the_local_records(server, remote, tmp_path):
    assert isinstance(remote, RemoteMemory) and isinstance(remote, EngramMemory)
    when = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    pixel = remote.remember(
        "My dog is called Pixel",
        "alice",
        session_id="s1",
        event_time=when,
        evidence=[Evidence(uri="chat://1")],
        metadata={"src": "chat"},
    )
    assert isinstance(pixel, Engram) and pixel.scope.user_id == "alice"
    assert pixel.metadata.event_time == when and pixel.metadata.evidence[0].uri == "chat://1"
    said = remote.remember([{"role": "user", "content": "I moved to Lisbon"}], "alice")
    assert [e.text for e in said] == ["user: I moved to Lisbon"]
    batch = remote.remember_many(
        [MemoryItem(text="I like tea", event_time=when), {"text": "I play chess"}], "alice"
    )
    assert [e.text for e in batch] == ["I like tea", "I play chess"]

    hits = remote.recall("what is my dog called", "alice", k=2)
    assert isinstance(hits[0], RecallHit) and hits[0].engram.id == pixel.id
    ranged = remote.recall(
        "dog", "alice", time_range=TimeRange(start=datetime(2026, 5, 1), end=datetime(2026, 5, 9))
    )
    assert {h.engram.id for h in ranged} <= {pixel.id, batch[0].id}
    assert remote.get(pixel.id, "alice") == server.memory.get(pixel.id, "acme:alice").model_copy(
        update={"scope": pixel.scope}
    )
    assert len(remote.list("alice")) == 4
    assert [e.id for e in remote.list("alice", session_id="s1")] == [pixel.id]
    planner = remote.remember("The dentist is on Tuesday", "alice", agent_id="planner")
    assert [e.id for e in remote.list("alice", agent_id="planner")] == [planner.id]
    assert [h.engram.id for h in remote.recall("dentist", "alice", agent_id="planner")] == [
        planner.id
    ]
    assert remote.recall("dentist", "alice", agent_id="coder") == []
    remote.delete(planner.id, "alice")

    assert remote.update(pixel.id, "alice", text="My dog is called Rex").text == (
        "My dog is called Rex"
    )
    assert isinstance(remote.feedback(pixel.id, "alice"), FusionWeights)
    use = remote.observe_reply("Rex, of course.", "alice", hits, query="what is my dog called")
    assert isinstance(use, ReplyUse) and use.used == [pixel.id]
    assert server.memory.get(pixel.id, "acme:alice").stats.usefulness > 1.0  # 1 from feedback
    assert isinstance(remote.consolidate("alice"), ConsolidationReport)
    path = tmp_path / "export.json"
    exported = remote.export("alice", path)
    assert json.loads(path.read_text())["user_id"] == exported["user_id"] == "alice"
    assert remote.verify_audit() >= 8
    assert remote.consent("alice") is True
    remote.set_consent("alice", False)
    assert remote.consent("alice") is False and server.memory.consent("acme:alice") is False
    with pytest.raises(ConsentError):
        remote.remember("I like coffee", "alice")
    remote.set_consent("alice", True)

    assert remote.delete([said[0].id], "alice") == 1
    assert remote.delete(batch[1].id, "alice") == 1
    assert remote.forget("alice", everything=True) == 2
    assert server.memory.list("acme:alice") == []


async def test_async_twins(remote):
    engram = await remote.aremember("My cat is called Miso", "bob")
    hits = await remote.arecall("cat name", "bob", k=1)
    assert hits[0].engram.id == engram.id
    assert [e.id for e in await remote.alist("bob")] == [engram.id]
    assert (await remote.aget(engram.id, "bob")).text == "My cat is called Miso"
    with pytest.raises(NotFoundError):
        await remote.aget("0" * 32, "bob")
    assert await remote.adelete(engram.id, "bob") == 1


async def test_async_twins_do_not_build_an_ssl_context_per_call(remote, monkeypatch):
    """Each async call has its own client (bound to the running loop), built from the one SSL
    context of the memory: loading the CA bundle per call cost 0.1 s."""
    built: list[object] = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(1) or real())
    results = await asyncio.gather(*(remote.arecall("garden", "bob", k=2) for _ in range(8)))
    assert len(results) == 8 and built == []


def test_errors_are_the_local_types(server, remote):
    with pytest.raises(InvalidInputError, match="empty"):
        remote.remember("   ", "alice")
    with pytest.raises(InvalidInputError, match="k must be"):
        remote.recall("x", "alice", k=0)
    with pytest.raises(NotFoundError, match="no engram"):
        remote.get("f" * 32, "alice")
    with pytest.raises(NotFoundError):
        remote.delete(["f" * 32], "alice")
    for not_ids in (5, None, {"id": "x"}):  # refused as locally, not a TypeError
        with pytest.raises(InvalidInputError, match="engram_id must be a string or a list"):
            remote.delete(not_ids, "alice")
    with pytest.raises(InvalidInputError, match="recalled must be a list"):
        remote.observe_reply("Pixel", "alice", 5)
    alice_only = EngramMemory.remote(server.url, api_key=server.acme_alice)
    with alice_only, pytest.raises(AccessDeniedError):
        alice_only.list("bob")
    with EngramMemory.remote(server.url) as anonymous, pytest.raises(AuthenticationError):
        anonymous.list("alice")
    nowhere = EngramMemory.remote("http://127.0.0.1:9")
    with nowhere, pytest.raises(BackendUnavailableError, match="cannot reach"):
        nowhere.list("alice")
    with pytest.raises(InvalidInputError, match="http"):
        EngramMemory.remote("ftp://example.org")
    assert server.memory.list("acme:alice") == []


def test_a_broken_audit_chain_is_a_409_conflict(server, remote):
    remote.remember("audited fact", "alice")
    assert remote.verify_audit() == 1
    with sqlite3.connect(server.memory.store.backend.path) as db:
        db.execute("UPDATE audit SET action = 'get' WHERE seq = 1")
    with server.client(server.acme) as client:
        response = client.get("/v1/audit/verify")
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "AuditIntegrityError"
    with pytest.raises(AuditIntegrityError):
        remote.verify_audit()
