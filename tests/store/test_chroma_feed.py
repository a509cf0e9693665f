"""The Chroma backend's `audit_after` (a poll of the erasure feed) reads only the entries from
the cursor on: the poll that returned the cursor bookmarked where it ends, so the next poll lists
none of the user's entry ids and reads neither another user's entries nor the user's older ones;
a cursor without a good bookmark is found by one listing, with the same results (local Chroma,
hashing encoder)."""

from __future__ import annotations

from typing import Any

import pytest

from engram_agents.memory import EngramMemory


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


@pytest.fixture
def memory(tmp_path, hashing):
    with EngramMemory.chroma(tmp_path / "chroma", encoder=hashing) as memory:
        notes = memory.remember_many([f"note {n} about the garden" for n in range(12)], "u")
        for note in notes:  # each read is one more of u's entries, before the cursor
            memory.get(note.id, "u")
        for n in range(5):
            memory.remember(f"other user's note {n}", "v")
        memory.notes = notes
        yield memory


def counted(memory: EngramMemory) -> CountingCollection:
    backend = memory.store.backend
    backend = getattr(backend, "inner", backend)  # the recall buffer, if any, wraps it
    backend.audit = counting = CountingCollection(backend.audit)
    return counting


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
    # the cursor's own entry (the bookmark's check), then delete, remember, delete: no listing
    assert counting.entries_read == counting.ids_seen == 4
    assert feed.cursor == start.cursor + 3
    whole = memory.erasures("u")  # from the start, the same positions
    assert whole.erasures == feed.erasures and whole.cursor == feed.cursor
    counting.entries_read = counting.ids_seen = 0
    assert memory.erasures("u", after=feed.cursor).erasures == []
    assert counting.entries_read == counting.ids_seen == 1
    assert memory.erasures("u", after=feed.cursor + 1) == whole  # beyond: from the start


def test_a_cursor_without_a_bookmark_is_found_once_by_listing(memory):
    for note in memory.notes[:4]:
        memory.delete(note.id, "u")
    whole = memory.erasures("u")
    after = whole.erasures[1].position - 1  # a cursor the feed never returned
    counting = counted(memory)
    for listed in (True, False):  # then it is bookmarked
        counting.ids_seen = 0
        feed = memory.erasures("u", after=after)
        assert feed.erasures == whole.erasures[1:] and feed.cursor == whole.cursor
        assert (counting.ids_seen > whole.cursor) == listed


def test_a_bookmark_the_log_disowns_is_not_trusted(memory):
    memory.delete(memory.notes[5].id, "u")
    whole = memory.erasures("u")
    backend = memory.store.backend
    backend = getattr(backend, "inner", backend)
    (other,) = [e.seq for e in backend.audit_events("v")][-1:]
    for wrong in (other, 10**9):  # another user's entry; one the log does not have
        backend._bookmarks.put(("u", whole.cursor - 1), wrong)  # as if the log were replaced
        feed = memory.erasures("u", after=whole.cursor - 1)
        assert feed.erasures == whole.erasures[-1:] and feed.cursor == whole.cursor
