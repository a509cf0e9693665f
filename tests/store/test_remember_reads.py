"""What a remember reads and computes to decide dedupe and supersede: only the stored engrams
that can change the decision (`lifecycle.can_supersede`), the nearest rows without an agent mask
when no other agent's row is indexed, and audit hashes that stay what they were."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.audit import GENESIS, chain, entry_hash, verify
from engram_agents.store.encoders import HashingEncoder
from engram_agents.store.errors import ConsentError
from engram_agents.store.index import ScopeIndex
from engram_agents.store.lifecycle import can_supersede, supersedes
from engram_agents.store.records import Engram, Scope
from engram_agents.store.rows import AuditEvent, EngramRow
from engram_agents.store.sketch import extract_sketch

STATEMENTS = [
    "My dentist appointment is on Tuesday at 10 am.",
    "Actually, my dentist appointment moved to Friday at 3 pm.",
    "I no longer play the guitar, I switched to piano.",
    "could you move the review to 3 pm?",
    "which day is my 1:1 now?",
    "When is the dentist appointment?",
    "Note 12: my dog plan involves the tea on day 5",
    "Jonas: Update on Japan: we moved the trip to October.",
    "Leila: Japan in June sounds great, I moved my trip too.",
]
ROLES = [None, "user", "assistant"]


def _engram(text: str, role: str | None) -> Engram:
    engram = Engram(scope=Scope(user_id="u"), text=text)
    if role:
        engram.metadata.extra["role"] = role
    engram.sketch = extract_sketch(text)
    return engram


@pytest.mark.parametrize("assistant_supersedes", [False, True])
def test_a_statement_that_cannot_supersede_supersedes_nothing(assistant_supersedes):
    """The writer skips reading candidates when `can_supersede` says no: that is safe only if
    `supersedes` then says no for every stored engram, whatever its text, speaker or similarity."""
    engrams = [_engram(t, r) for t, r in itertools.product(STATEMENTS, ROLES)]
    said_yes = 0
    for new, old in itertools.product(engrams, engrams):
        for similarity in (0.4, 0.6, 0.99):
            says = supersedes(
                new, old, similarity, 0.5, 0.2, assistant_supersedes=assistant_supersedes
            )
            if says:
                said_yes += 1
                assert can_supersede(new, assistant_supersedes=assistant_supersedes)
    assert said_yes  # the grid holds updates, so the check above ran on real ones


class _CountingReads:
    """Wraps a backend to record the ids each `get` asks for."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.asked: list[list[str]] = []

    def get(self, user_id: str, ids: list[str]):
        self.asked.append(list(ids))
        return self.inner.get(user_id, ids)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@pytest.fixture
def memory(tmp_path: Path):
    memory = EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(256))
    memory.store.backend = _CountingReads(memory.store.backend)
    yield memory
    memory.close()


def test_a_plain_fact_reads_no_stored_engram_but_a_duplicate_and_an_update_do(memory):
    reads = memory.store.backend
    fact = memory.remember("My dentist appointment is on Tuesday at 10 am", "u")
    memory.remember("My sister lives in Berlin near the old station", "u")
    reads.asked.clear()
    memory.remember("My dentist appointment is on Tuesday at 11 am", "u")  # similar, no cue
    assert reads.asked == [[]]
    assert memory.get(fact.id, "u").is_active

    again = memory.remember("My dentist appointment is on Tuesday at 10 am", "u")
    assert again.id == fact.id and again.stats.activations == 1  # read, then reinforced
    assert fact.id in reads.asked[-1]

    update = memory.remember("Actually, my dentist appointment moved to Friday at 10 am", "u")
    assert fact.id in reads.asked[-1]
    superseded = memory.get(fact.id, "u")
    assert superseded.superseded_by == update.id and not superseded.is_active
    actions = [e.action for e in memory.store.backend.audit_events("u")]
    assert actions.count("reinforce") == 1 and actions.count("supersede") == 1


def test_a_batch_still_dedupes_and_supersedes_within_itself(memory):
    stored = memory.remember_many(
        [
            "I play the guitar every Sunday",
            "I play the guitar every Sunday",
            "I no longer play the guitar every Sunday, I switched to piano instead",
        ],
        "u",
    )
    assert stored[0].id == stored[1].id
    assert stored[0].superseded_by == stored[2].id
    assert stored[2].history[-1].engram_id == stored[0].id


def _row(engram_id: str, vector: np.ndarray, agent: str | None) -> EngramRow:
    return EngramRow(
        id=engram_id, user_id="u", agent_id=agent, session_id=None, tier="short", active=True,
        when_ts=0.0, created_ts=0.0, tags=[], vector=vector, payload=b"{}",
    )  # fmt: skip


def test_nearest_keeps_agents_apart_with_and_without_the_mask():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = ScopeIndex(8)
    index.upsert([_row(f"n{i}", vectors[i], None) for i in range(3)])
    assert {i for _, i in index.nearest(vectors[:1], [None])[0]} == {"n0", "n1", "n2"}
    assert index.nearest(vectors[:1], ["coder"]) == [[]]  # no row of that agent
    index.upsert([_row(f"c{i}", vectors[i], "coder") for i in range(3, 6)])
    mine, theirs = index.nearest(vectors[:2], [None, "coder"])
    assert {i for _, i in mine} == {"n0", "n1", "n2"}
    assert {i for _, i in theirs} == {"c3", "c4", "c5"}
    index.remove(["c3", "c4", "c5"])  # the agent is still known: masked, and nothing found
    assert index.nearest(vectors[:1], ["coder"]) == [[]]
    assert max(index.nearest(vectors[:1], [None])[0])[1] == "n0"  # itself, at cosine 1


def test_audit_hashes_are_those_of_the_documented_json():
    events = [
        AuditEvent("u", "remember", ["a" * 32], {"count": 1}),
        AuditEvent("ü", "recall", ["b", "c"], {"k": 5, "nested": {"z": [1.5, None], "a": "é"}}),
        AuditEvent("u", "consent", [], {"remember": False}),
    ]
    chain(events, 0, "")
    previous = GENESIS
    for e in events:
        body = json.dumps(
            [e.seq, e.ts, e.user_id, e.action, e.engram_ids, e.detail],
            sort_keys=True,
            separators=(",", ":"),
        )
        assert e.prev_hash == previous
        assert e.hash == entry_hash(e) == hashlib.sha256((previous + body).encode()).hexdigest()
        previous = e.hash
    assert verify(events) == 3


def test_audit_rows_store_the_detail_as_sorted_json(memory):
    memory.set_consent("u", False)
    memory.set_consent("u", True)
    db = memory.store.backend.inner.inner._db
    details = [d for (d,) in db.execute("SELECT detail FROM audit ORDER BY seq")]
    assert details == [json.dumps({"remember": False}), json.dumps({"remember": True})]
    memory.store.backend.inner.append_audit([AuditEvent("u", "x", [], {"b": 1, "a": [2, "é"]})])
    (last,) = db.execute("SELECT detail FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    assert last == json.dumps({"b": 1, "a": [2, "é"]}, sort_keys=True)
    assert memory.verify_audit() == 3


def test_a_users_settings_are_read_once_across_their_own_writes(tmp_path: Path):
    """The store's own write moves the user's revision by one and changes only the settings it
    writes: the others, read just before, still hold (`StoreCore._commit`)."""
    memory = EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(256))
    backend = memory.store.backend
    read: list[tuple[str, str]] = []
    setting = backend.setting
    backend.setting = lambda user, key: read.append((user, key)) or setting(user, key)
    memory.remember("Caroline is a painter", "u")
    read.clear()
    for fact in ("Melanie runs marathons", "Caroline adopted a dog named Rex"):
        memory.remember(fact, "u")
    assert read.count(("u", "consent")) == 2  # the check before encoding, none in the write
    memory.set_consent("u", False)  # written by this handle: not carried over
    with pytest.raises(ConsentError):
        memory.remember("Jon opened a dance studio", "u")
    memory.set_consent("u", True)
    assert memory.remember("Jon opened a dance studio", "u").text == "Jon opened a dance studio"
    memory.close()
