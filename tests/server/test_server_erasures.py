"""A server's erasures reach a client's model without a consolidation: the tenant-scoped feed
(`GET /v1/users/{user}/erasures?after=N`, `EngramMemory.erasures`) and the remote memory's
follower, against a real server on 127.0.0.1 and a tiny EngramLM on CPU."""

from __future__ import annotations

import asyncio
import time

import pytest

from engram_agents import EngramMemory, TrainConfig
from engram_agents.consolidation import consolidate_into_model
from engram_agents.erasure_feed import ErasureFeed
from engram_agents.errors import AccessDeniedError, InvalidInputError

QUICK = TrainConfig(epochs=2, batch_size=8, min_steps=1)
MARK = "zqxv7731"  # a word no other text holds, so the delta file's bytes can be searched
SECRET = f"The gym locker code is {MARK} and the bike lock is 4471."
KEPT = "The wifi password at the cabin is blue-otter-42."


def test_the_feed_lists_a_users_erasures_after_a_cursor(server):
    with EngramMemory.remote(server.url, api_key=server.acme) as remote:
        a, b, c = (remote.remember(t, "alice", session_id=s) for t, s in [
            ("My dog is called Pixel.", "s1"), ("I live in Lyon.", "s2"), ("I play chess.", "s3")
        ])  # fmt: skip
        start = remote.erasures("alice")
        assert isinstance(start, ErasureFeed) and start.erasures == []
        remote.delete(a.id, "alice")
        remote.forget("alice", session_id="s2")
        remote.remember("I play the cello too.", "alice")  # not an erasure: moves the cursor only
        feed = remote.erasures("alice", after=start.cursor)
        assert [(e.action, e.engram_ids) for e in feed.erasures] == [
            ("delete", [a.id]),
            ("forget", [b.id]),
        ]
        assert all(e.position > start.cursor for e in feed.erasures)
        assert feed.cursor > feed.erasures[-1].position
        assert remote.erasures("alice", after=feed.cursor).erasures == []
        assert c.id not in str(feed)
        # the cursor counts alice's entries only: bob's activity moves nothing of hers
        for n in range(3):
            remote.remember(f"Bob note {n}", "bob")
        remote.forget("bob", everything=True)
        assert remote.erasures("alice", after=feed.cursor).cursor == feed.cursor
        # the async twin reads the same feed
        assert asyncio.run(remote.aerasures("alice")) == remote.erasures("alice")


def test_the_feed_reveals_nothing_across_keys_and_tenants(server):
    with EngramMemory.remote(server.url, api_key=server.acme) as acme:
        gone = acme.remember("Alice's secret plan", "alice")
        acme.delete(gone.id, "alice")
    with server.client() as anonymous:
        answer = anonymous.get("/v1/users/alice/erasures")
        assert answer.status_code == 401 and gone.id not in answer.text
    with server.client("ek_0000000000000000_" + "x" * 43) as wrong:
        assert wrong.get("/v1/users/alice/erasures").status_code == 401
    with server.client(server.acme_alice) as only_alice:
        assert only_alice.get("/v1/users/alice/erasures").status_code == 200
        refused = only_alice.get("/v1/users/bob/erasures")
        assert refused.status_code == 403 and refused.json()["error"]["type"] == "AccessDeniedError"
    # another tenant's "alice" is its own, empty user: no event, no cursor, no id
    with server.client(server.globex) as globex:
        answer = globex.get("/v1/users/alice/erasures")
        assert answer.status_code == 200
        assert answer.json() == {"erasures": [], "cursor": 0}
    with (
        EngramMemory.remote(server.url, api_key=server.acme_alice) as narrow,
        pytest.raises(AccessDeniedError),
    ):
        narrow.erasures("bob")


@pytest.mark.parametrize("after", ["-1", "x", "1.5"])
def test_a_bad_cursor_is_refused(server, acme, after):
    answer = acme.get("/v1/users/alice/erasures", params={"after": after})
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "InvalidInputError"


def test_a_bad_cursor_fails_in_the_client_before_any_request(server):
    with EngramMemory.remote(server.url, api_key=server.acme) as remote:
        for after in (-1, True, "3"):
            with pytest.raises(InvalidInputError, match="after must be a non-negative integer"):
                remote.erasures("alice", after=after)
    local = server.memory
    with pytest.raises(InvalidInputError, match="after must be"):
        local.erasures("acme:alice", after=-2)


def _consolidated(server, tiny_lm, remote) -> str:
    """alice's two facts on the server and in the client's model; the id of the secret's."""
    remote.remember(SECRET, "alice", session_id="s1")
    remote.remember(KEPT, "alice", session_id="s2")
    consolidate_into_model(remote, tiny_lm, "alice", QUICK)
    assert MARK.encode() in tiny_lm.memory_path("alice").read_bytes()  # the test can fail
    (secret,) = [e for e in remote.list("alice") if MARK in e.text]
    return secret.id


def _consolidations(server) -> int:
    events = server.memory.store.backend.audit_events("acme:alice")
    return sum(e.action == "consolidate" for e in events)


def _forgot_the_secret(tiny_lm) -> bool:
    return MARK.encode() not in tiny_lm.memory_path("alice").read_bytes() and [
        f.statement for f in tiny_lm.facts("alice")
    ] == [KEPT]


def test_a_delete_through_another_client_leaves_the_model_before_its_next_call(server, tiny_lm):
    with (
        EngramMemory.remote(server.url, api_key=server.acme, erasure_poll=None) as agent,
        EngramMemory.remote(server.url, api_key=server.acme_alice) as console,
    ):
        secret = _consolidated(server, tiny_lm, agent)
        consolidations = _consolidations(server)
        console.delete(secret, "alice")  # say, a person in the web console
        assert MARK.encode() in tiny_lm.memory_path("alice").read_bytes()  # nothing polls
        hits = agent.recall("gym locker code", "alice")  # the agent's next turn
        assert MARK not in str(hits)
        assert _forgot_the_secret(tiny_lm)
        assert _consolidations(server) == consolidations  # no consolidation ran


def test_the_poll_forgets_a_forgotten_session_with_no_call_at_all(server, tiny_lm):
    with (
        EngramMemory.remote(server.url, api_key=server.acme, erasure_poll=0.2) as agent,
        EngramMemory.remote(server.url, api_key=server.acme) as other,
    ):
        _consolidated(server, tiny_lm, agent)
        consolidations = _consolidations(server)
        assert other.forget("alice", session_id="s1") == 1
        deadline = time.monotonic() + 120  # a bound on waiting, not a measured speed
        while not _forgot_the_secret(tiny_lm) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _forgot_the_secret(tiny_lm)
        assert _consolidations(server) == consolidations


async def test_an_own_async_delete_reaches_the_model_before_it_returns(server, tiny_lm):
    with EngramMemory.remote(server.url, api_key=server.acme, erasure_poll=None) as agent:
        secret = _consolidated(server, tiny_lm, agent)
        assert await agent.adelete(secret, "alice") == 1
        assert _forgot_the_secret(tiny_lm)


def test_a_model_follows_only_the_users_it_was_attached_for(server, tiny_lm):
    """Only a store user named to attach_model (or consolidated into the model) is followed,
    into the model user named for it; the model's other users are left alone."""
    with (
        EngramMemory.remote(server.url, api_key=server.acme, erasure_poll=None) as agent,
        EngramMemory.remote(server.url, api_key=server.acme) as other,
    ):
        tiny_lm.memorize([KEPT], "tess", QUICK)  # not from any store
        agent.attach_model(tiny_lm, {"bob": "tess"})
        noise = other.remember("Something alice said.", "alice")
        other.delete(noise.id, "alice")
        agent.list("alice")
        assert [f.statement for f in tiny_lm.facts("tess")] == [KEPT]
        locker = other.remember("My locker is number 12.", "bob")
        consolidate_into_model(agent, tiny_lm, "bob", QUICK, model_user_id="tess")
        assert [f.statement for f in tiny_lm.facts("tess")] == ["My locker is number 12."]
        assert tiny_lm.facts("bob") == []  # the model user is tess, not the store's bob
        other.delete(locker.id, "bob")
        agent.consent("bob")
        assert tiny_lm.facts("tess") == []
