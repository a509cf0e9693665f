"""The Chroma backend's `audit_after` (a poll of the erasure feed) reads only what is new, with
any cursor in any handle: each audit entry carries its position among its user's entries, and
`state` points from each position to the entry and notes the user's count, so a poll reads the
note, the pointers past its cursor and their entries, all by id. An append interrupted before
noting its entries, and a store written before ordinals, are noted by the next open or append
(local Chroma, hashing encoder)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.backends import chroma
from engram_agents.store.backends.chroma import ChromaBackend
from engram_agents.store.backends.chroma_rows import NoEmbedding
from engram_agents.store.errors import BackendUnavailableError
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


def counted(memory: EngramMemory) -> tuple[CountingCollection, CountingCollection]:
    """Counters on the audit entries and on the `state` records (counts, pointers) read."""
    backend = backend_of(memory)
    backend.audit = audit = CountingCollection(backend.audit)
    backend.state = state = CountingCollection(backend.state)
    return audit, state


def reset(*counters: CountingCollection) -> None:
    for counter in counters:
        counter.ids_seen = counter.entries_read = 0


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
    audit, state = counted(memory)

    feed = memory.erasures("u", after=start.cursor)
    assert [(e.action, sorted(e.engram_ids)) for e in feed.erasures] == [
        ("delete", [notes[3].id]),
        ("delete", sorted([notes[0].id, notes[7].id])),
    ]
    assert audit.entries_read == audit.ids_seen == 3  # delete, remember, delete
    assert state.entries_read == 2 + 3  # the notes (count, tail: one read), a pointer to each
    assert feed.cursor == start.cursor + 3
    whole = memory.erasures("u")  # from the start, the same positions
    assert whole.erasures == feed.erasures and whole.cursor == feed.cursor
    reset(audit, state)
    assert memory.erasures("u", after=feed.cursor).erasures == []
    assert (audit.ids_seen, state.ids_seen) == (0, 2)  # an idle poll: the notes only
    assert memory.erasures("u", after=feed.cursor + 1) == whole  # beyond: from the start


def test_a_second_handle_polls_from_a_cursor_it_did_not_issue(memory, tmp_path, hashing):
    """Another process behind the load balancer: a handle that returned no cursor reads exactly
    the right entries from any cursor, and reads no more than the first handle would."""
    for note in memory.notes[:4]:
        memory.delete(note.id, "u")
    memory.forget("u", tags=["nothing:matches"])  # an erasure that removed nothing
    whole = memory.erasures("u")
    with open_memory(tmp_path, hashing) as other:
        audit, state = counted(other)
        for erasure in whole.erasures:
            after = erasure.position - 1  # a cursor the feed never returned
            reset(audit, state)
            feed = other.erasures("u", after=after)
            assert feed.erasures == [e for e in whole.erasures if e.position > after]
            assert feed.cursor == whole.cursor
            assert audit.ids_seen == audit.entries_read == whole.cursor - after
            assert state.ids_seen == 2 + whole.cursor - after
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
        audit, state = counted(fresh)
        feed = fresh.erasures("u", after=cursor + 1)
        assert [(e.position, e.engram_ids) for e in feed.erasures] == [(cursor + 2, [fact.id])]
        # the new entry, the notes and its pointer: not 1,000 (not even their ids)
        assert (audit.ids_seen, audit.entries_read, state.ids_seen) == (1, 1, 3)


def crash_noting(patch: pytest.MonkeyPatch, after: int = 0) -> None:
    """Let `after` notings through, then crash every later one (entries added, never noted)."""
    real, made = ChromaBackend._note, []

    def crashing(self: ChromaBackend, entries: list[dict[str, Any]]) -> None:
        if len(made) >= after:
            raise RuntimeError("crash before noting")
        made.append(entries)
        real(self, entries)

    patch.setattr(ChromaBackend, "_note", crashing)


def test_entries_an_interrupted_append_did_not_note_are_noted_next(memory, tmp_path, hashing):
    """Crashed after adding its entries, before their pointers and counts: the feed does not see
    them yet; a new handle's open notes them, and so does the next append in the same one."""
    backend = backend_of(memory)
    n, m = len(ordinals(backend, "u")), len(ordinals(backend, "v"))
    with pytest.MonkeyPatch.context() as patch:
        crash_noting(patch)
        with pytest.raises(BackendUnavailableError):
            memory.delete(memory.notes[2].id, "u")
    assert memory.erasures("u", after=n).erasures == []  # added, not noted: unseen for now
    with open_memory(tmp_path, hashing) as other:
        feed = other.erasures("u", after=n)
        assert [e.engram_ids for e in feed.erasures] == [[memory.notes[2].id]]
    with pytest.MonkeyPatch.context() as patch:
        crash_noting(patch)
        with pytest.raises(BackendUnavailableError):  # several users in one append
            backend.append_audit([AuditEvent(user, "recall", [], ts=time.time()) for user in "uvu"])
    memory.delete(memory.notes[4].id, "u")  # notes the crashed append's entries first
    assert ordinals(backend, "u") == list(range(1, n + 5))
    assert ordinals(backend, "v") == list(range(1, m + 2))
    feed = memory.erasures("u", after=n)
    assert [e.engram_ids for e in feed.erasures] == [[memory.notes[2].id], [memory.notes[4].id]]
    assert [e.position for e in feed.erasures] == [n + 1, n + 4] and feed.cursor == n + 4
    assert memory.verify_audit() > 0


def old_layout(backend: ChromaBackend) -> None:
    """Make the store as the code before ordinals wrote it: its audit entries without
    `user_ord` (the collection built again from them), no counts or pointers in `state`."""
    got = backend.audit.get(include=["metadatas"])
    name = backend.audit.name
    backend.client.delete_collection(name)
    backend.audit = backend.client.create_collection(name, embedding_function=NoEmbedding())
    backend.audit.add(
        ids=got["ids"],
        embeddings=[[1.0]] * len(got["ids"]),
        metadatas=[{k: v for k, v in m.items() if k != "user_ord"} for m in got["metadatas"]],
    )
    records = backend.state.get(include=[])["ids"]
    backend.state.delete(ids=[i for i in records if i.startswith(("count:", "ord:", "audit:"))])


def counting_updates(patch: pytest.MonkeyPatch) -> list[int]:
    """How many audit entries each Chroma `update` rewrites, from now on."""
    from chromadb.api.models.Collection import Collection

    calls, real = [], Collection.update

    def update(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(kwargs["ids"]))
        return real(self, *args, **kwargs)

    patch.setattr(Collection, "update", update)
    return calls


def test_a_store_written_before_ordinals_is_numbered_on_open(memory, tmp_path, hashing):
    memory.delete(memory.notes[1].id, "u")
    memory.forget("v", everything=True)
    memory.forget("u", tags=["nothing:matches"])
    expected = {user: memory.erasures(user) for user in ("u", "v")}
    first = expected["u"].erasures[0].position
    backend = backend_of(memory)
    lengths = {user: len(ordinals(backend, user)) for user in ("u", "v")}
    old_layout(backend)
    assert set(ordinals(backend, "u")) == {None}

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chroma, "_PAGE", 4)  # read back and noted a few entries at a time
        with open_memory(tmp_path, hashing) as upgraded:
            migrated = backend_of(upgraded)
            for user, length in lengths.items():
                assert ordinals(migrated, user) == list(range(1, length + 1))
                assert upgraded.erasures(user) == expected[user]
            assert upgraded.erasures("u", after=first - 1).erasures == expected["u"].erasures
            upgraded.delete(memory.notes[4].id, "u")  # numbered on from the noted count
            assert ordinals(migrated, "u") == list(range(1, lengths["u"] + 2))
            feed = upgraded.erasures("u", after=expected["u"].cursor)
            assert [e.engram_ids for e in feed.erasures] == [[memory.notes[4].id]]
            assert upgraded.verify_audit() > 0
    with pytest.MonkeyPatch.context() as patch:
        updates = counting_updates(patch)
        with open_memory(tmp_path, hashing) as reopened:  # done: nothing rewritten
            assert reopened.erasures("u").cursor == lengths["u"] + 1
        assert updates == []


def test_numbering_interrupted_half_way_numbers_the_same_when_run_again(memory, tmp_path, hashing):
    memory.delete(memory.notes[1].id, "u")
    backend = backend_of(memory)
    numbered = {user: ordinals(backend, user) for user in ("u", "v")}
    whole = memory.erasures("u")
    old_layout(backend)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chroma, "_PAGE", 4)
        crash_noting(patch, after=2)
        with pytest.raises(BackendUnavailableError):
            open_memory(tmp_path, hashing)
    assert 0 < sum(n is not None for n in ordinals(backend, "u")) < len(numbered["u"])
    with open_memory(tmp_path, hashing) as again:
        assert {user: ordinals(backend_of(again), user) for user in numbered} == numbered
        assert again.erasures("u") == whole
