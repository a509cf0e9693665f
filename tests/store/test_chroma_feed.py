"""The Chroma backend's `audit_after` (a poll of the erasure feed) reads only the entries from the
cursor on, with any cursor in any handle: each audit entry carries its position among its user's
entries (`user_ord`), so a poll asks for the entries numbered from the cursor on. Stores written
before ordinals are numbered once on open (local Chroma, hashing encoder)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.backends.chroma import ChromaBackend, NoEmbedding
from engram_agents.store.rows import AuditEvent


class CountingCollection:
    """A Chroma collection that counts the audit entries each `get` hands back: as ids (a
    listing included) and whole (their metadata, decoded)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.ids_seen, self.entries_read = inner, 0, 0

    def get(self, *args: Any, **kwargs: Any) -> Any:
        got = self.inner.get(*args, **kwargs)
        self.ids_seen += len(got["ids"])
        self.entries_read += len(got["metadatas"] or [])
        return got

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def open_memory(path: Path, hashing: Any) -> EngramMemory:
    return EngramMemory.chroma(path / "chroma", encoder=hashing)


@pytest.fixture
def memory(tmp_path, hashing):
    with open_memory(tmp_path, hashing) as memory:
        notes = memory.remember_many([f"note {n} about the garden" for n in range(12)], "u")
        for note in notes:  # each read is one more of u's entries, before the cursor
            memory.get(note.id, "u")
        for n in range(5):
            memory.remember(f"other user's note {n}", "v")
        memory.notes = notes
        yield memory


def backend_of(memory: EngramMemory) -> ChromaBackend:
    backend = memory.store.backend
    return getattr(backend, "inner", backend)  # the recall buffer, if any, wraps it


def counted(memory: EngramMemory) -> CountingCollection:
    backend = backend_of(memory)
    backend.audit = counting = CountingCollection(backend.audit)
    return counting


def ordinals(backend: ChromaBackend, user_id: str) -> list[int | None]:
    """The user's entries' stored ordinals, in seq order."""
    got = backend.audit.get(where={"user_id": user_id}, include=["metadatas"])
    return [m.get("user_ord") for m in sorted(got["metadatas"], key=lambda m: m["seq"])]


def test_a_feed_poll_reads_only_the_users_new_entries(memory):
    notes = memory.notes
    start = memory.erasures("u")
    memory.delete(notes[3].id, "u")
    memory.remember("the shed is painted green", "u")
    memory.forget("v", everything=True)
    memory.delete([notes[0].id, notes[7].id], "u")
    counting = counted(memory)

    feed = memory.erasures("u", after=start.cursor)
    assert [(e.action, sorted(e.engram_ids)) for e in feed.erasures] == [
        ("delete", [notes[3].id]),
        ("delete", sorted([notes[0].id, notes[7].id])),
    ]
    # the cursor's own entry (it shows the log has it), then delete, remember, delete
    assert counting.entries_read == counting.ids_seen == 4
    assert feed.cursor == start.cursor + 3
    whole = memory.erasures("u")  # from the start, the same positions
    assert whole.erasures == feed.erasures and whole.cursor == feed.cursor
    counting.entries_read = counting.ids_seen = 0
    assert memory.erasures("u", after=feed.cursor).erasures == []
    assert counting.entries_read == counting.ids_seen == 1
    assert memory.erasures("u", after=feed.cursor + 1) == whole  # beyond: from the start


def test_a_second_handle_polls_from_a_cursor_it_did_not_issue(memory, tmp_path, hashing):
    """Another process behind the load balancer: a handle that returned no cursor reads exactly
    the right entries from any cursor, and reads no more than the first handle would."""
    for note in memory.notes[:4]:
        memory.delete(note.id, "u")
    memory.forget("u", tags=["nothing:matches"])  # an erasure that removed nothing
    whole = memory.erasures("u")
    with open_memory(tmp_path, hashing) as other:
        counting = counted(other)
        for erasure in whole.erasures:
            after = erasure.position - 1  # a cursor the feed never returned
            counting.entries_read = counting.ids_seen = 0
            feed = other.erasures("u", after=after)
            assert feed.erasures == [e for e in whole.erasures if e.position > after]
            assert feed.cursor == whole.cursor
            assert counting.ids_seen == counting.entries_read == whole.cursor - after + 1
        other.delete(memory.notes[9].id, "u")  # written by the second handle
    feed = memory.erasures("u", after=whole.cursor)
    assert [(e.position, e.engram_ids) for e in feed.erasures] == [
        (whole.cursor + 1, [memory.notes[9].id])
    ]


def test_a_poll_after_a_thousand_entries_reads_the_new_one(tmp_path, hashing):
    with open_memory(tmp_path, hashing) as memory:
        backend_of(memory).append_audit(
            [AuditEvent("u", "recall", [f"e{n}"], ts=time.time()) for n in range(1000)]
        )
        cursor = memory.erasures("u").cursor
        fact = memory.remember("the gate code changed", "u")
        memory.delete(fact.id, "u")
    with open_memory(tmp_path, hashing) as fresh:  # nothing of the first handle's in memory
        counting = counted(fresh)
        feed = fresh.erasures("u", after=cursor + 1)
        assert [(e.position, e.engram_ids) for e in feed.erasures] == [(cursor + 2, [fact.id])]
        # the cursor's own entry and the new one, not 1,000 (not even their ids)
        assert counting.ids_seen == counting.entries_read == 2


def test_appends_number_on_past_a_count_note_that_missed_entries(memory):
    """An append that crashed after adding its entries but before noting the count (or another
    process's append) leaves the note behind the log: the next append still numbers on."""
    backend = backend_of(memory)
    n = len(ordinals(backend, "u"))
    backend._upsert_state([("count:u", {"n": n - 3})])
    memory.delete(memory.notes[2].id, "u")
    assert ordinals(backend, "u") == list(range(1, n + 2))
    assert memory.erasures("u", after=n).erasures[0].engram_ids == [memory.notes[2].id]
    m = len(ordinals(backend, "v"))
    backend._upsert_state([("count:v", {"n": 0})])
    backend.append_audit([AuditEvent(user, "recall", [], ts=time.time()) for user in "uvu"])
    assert ordinals(backend, "u") == list(range(1, n + 4))  # several users in one append
    assert ordinals(backend, "v") == list(range(1, m + 2))


def old_layout(backend: ChromaBackend) -> None:
    """Make the store as the code before ordinals wrote it: its audit entries without
    `user_ord` (the collection built again from them) and no count notes or layout mark."""
    got = backend.audit.get(include=["metadatas"])
    name = backend.audit.name
    backend.client.delete_collection(name)
    backend.audit = backend.client.create_collection(name, embedding_function=NoEmbedding())
    backend.audit.add(
        ids=got["ids"],
        embeddings=[[1.0]] * len(got["ids"]),
        metadatas=[{k: v for k, v in m.items() if k != "user_ord"} for m in got["metadatas"]],
    )
    notes = backend.state.get(include=[])["ids"]
    backend.state.delete(ids=[i for i in notes if i.startswith(("count:", "layout:"))])


def test_a_store_written_before_ordinals_is_numbered_once_on_open(memory, tmp_path, hashing):
    memory.delete(memory.notes[1].id, "u")
    memory.forget("v", everything=True)
    memory.forget("u", tags=["nothing:matches"])
    expected = {user: memory.erasures(user) for user in ("u", "v")}
    first = expected["u"].erasures[0].position
    backend = backend_of(memory)
    lengths = {user: len(ordinals(backend, user)) for user in ("u", "v")}
    old_layout(backend)
    assert set(ordinals(backend, "u")) == {None}

    with open_memory(tmp_path, hashing) as upgraded:
        migrated = backend_of(upgraded)
        for user, length in lengths.items():
            assert ordinals(migrated, user) == list(range(1, length + 1))
            assert upgraded.erasures(user) == expected[user]
        feed = upgraded.erasures("u", after=first - 1)
        assert feed.erasures == expected["u"].erasures
        upgraded.delete(memory.notes[4].id, "u")  # numbered on from the noted count
        assert ordinals(migrated, "u") == list(range(1, lengths["u"] + 2))
        assert upgraded.erasures("u", after=expected["u"].cursor).erasures[0].engram_ids == [
            memory.notes[4].id
        ]
        assert upgraded.verify_audit() > 0

    with open_memory(tmp_path, hashing) as reopened:  # marked done: nothing read or written
        assert reopened.erasures("u").cursor == lengths["u"] + 1
    calls: list[str] = []
    real_update = type(migrated.audit).update

    def counting_update(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(self.name)
        return real_update(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(migrated.audit), "update", counting_update)
        with open_memory(tmp_path, hashing):
            pass
        assert calls == []
        # interrupted before its mark (removed here): it runs again, and numbers the same
        migrated.state.delete(ids=["layout:audit_user_ord"])
        with open_memory(tmp_path, hashing) as again:
            assert ordinals(backend_of(again), "u") == list(range(1, lengths["u"] + 2))
        assert calls == []  # every entry already had its number: none rewritten
