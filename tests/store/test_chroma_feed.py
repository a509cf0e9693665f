"""The Chroma backend's `audit_after` (a poll of the erasure feed) reads the user's entry ids
and then only the entries past the cursor: never another user's entries, never the user's
older ones (local Chroma with the hashing encoder)."""

from __future__ import annotations

from typing import Any

from engram_agents.memory import EngramMemory


class CountingCollection:
    """A Chroma collection that counts the audit entries each `get` hands back whole."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.entries_read = inner, 0

    def get(self, *args: Any, **kwargs: Any) -> Any:
        got = self.inner.get(*args, **kwargs)
        self.entries_read += len(got["metadatas"] or [])
        return got

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_feed_poll_reads_only_the_users_new_entries(tmp_path, hashing):
    with EngramMemory.chroma(tmp_path / "chroma", encoder=hashing) as memory:
        notes = memory.remember_many([f"note {n} about the garden" for n in range(12)], "u")
        for note in notes:  # each read is one more of u's entries, before the cursor
            memory.get(note.id, "u")
        for n in range(5):
            memory.remember(f"other user's note {n}", "v")
        start = memory.erasures("u")
        memory.delete(notes[3].id, "u")
        memory.remember("the shed is painted green", "u")
        memory.forget("v", everything=True)
        memory.delete([notes[0].id, notes[7].id], "u")
        backend = memory.store.backend
        backend = getattr(backend, "inner", backend)  # the recall buffer, if any, wraps it
        backend.audit = counting = CountingCollection(backend.audit)

        feed = memory.erasures("u", after=start.cursor)
        assert [(e.action, sorted(e.engram_ids)) for e in feed.erasures] == [
            ("delete", [notes[3].id]),
            ("delete", sorted([notes[0].id, notes[7].id])),
        ]
        assert counting.entries_read == 3  # delete, remember, delete: not u's first, nor v's
        assert feed.cursor == start.cursor + 3
        whole = memory.erasures("u")  # from the start, the same positions
        assert whole.erasures == feed.erasures and whole.cursor == feed.cursor
        counting.entries_read = 0
        assert memory.erasures("u", after=feed.cursor).erasures == []
        assert counting.entries_read == 0
        assert memory.erasures("u", after=feed.cursor + 1) == whole  # beyond: from the start
