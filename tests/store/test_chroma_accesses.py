"""Recall's access counts on the Chroma backend live in a side collection (`{name}_accesses`):
a flushed recall writes there and leaves the engram rows alone, every read path sees the same
counts as on SQLite (the reference), a whole-row write carries them into the row and drops the
side entry, a delete or forget leaves none behind (test_access_counts, with SQLite's), and a
store made before the side collection reads its rows' own counts (local Chroma, hashing
encoder)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chromadb.api.models.Collection import Collection

from engram_agents.memory import EngramMemory
from engram_agents.store.backends.chroma import ChromaBackend
from engram_agents.store.config import StoreConfig
from engram_agents.store.errors import AuditIntegrityError
from engram_agents.store.rows import AuditEvent

HOLD = StoreConfig(touch_flush_s=3600, touch_buffer=1000)  # written by a write, flush or close
BOILER = "the boiler is serviced every March"


def open_chroma(path: Path, hashing: Any) -> EngramMemory:
    return EngramMemory.chroma(path / "chroma", encoder=hashing, config=HOLD)


def chroma_of(memory: EngramMemory) -> ChromaBackend:
    backend = memory.store.backend
    return getattr(backend, "inner", backend)  # the recall buffer wraps it


def side_entries(memory: EngramMemory) -> dict[str, int]:
    got = chroma_of(memory).accesses.get(include=["metadatas"])
    return {i: m["activations"] for i, m in zip(got["ids"], got["metadatas"], strict=True)}


def row_count(memory: EngramMemory, engram_id: str) -> int:
    (meta,) = chroma_of(memory).rows.get(ids=[engram_id], include=["metadatas"])["metadatas"]
    return meta["activations"]


def every_read(memory: EngramMemory, engram_id: str) -> set[tuple[int, float]]:
    """(activations, last access time) of one engram through each way the store reads them."""
    (listed,) = [e for e in memory.list("u") if e.id == engram_id]
    (exported,) = [e for e in memory.export("u")["engrams"] if e["id"] == engram_id]
    got = memory.get(engram_id, "u")
    backend = memory.store.backend
    (scanned,) = [r for r in backend.scan("u") if r.id == engram_id]
    (record,) = backend.records_many({"u": [engram_id]})["u"]
    last = got.stats.last_access.timestamp()
    return {
        (got.stats.activations, last),
        (listed.stats.activations, listed.stats.last_access.timestamp()),
        (exported["stats"]["activations"], last),
        (scanned.activations, scanned.last_access_ts),
        (record.activations, record.last_access_ts),
    }


def writes_by_collection(patch: pytest.MonkeyPatch) -> Counter[str]:
    """How many Chroma write calls reach each collection, from now on."""
    made: Counter[str] = Counter()
    for name in ("add", "upsert", "update", "delete"):
        real = getattr(Collection, name)

        def wrapper(self: Collection, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            made[self.name] += 1
            return _real(self, *args, **kwargs)

        patch.setattr(Collection, name, wrapper)
    return made


def test_a_recall_writes_beside_the_rows_and_every_read_sees_it(tmp_path, hashing):
    with open_chroma(tmp_path, hashing) as memory:
        fact = memory.remember(BOILER, "u")
        memory.remember("the car is serviced in May", "u")
        with pytest.MonkeyPatch.context() as patch:
            made = writes_by_collection(patch)
            for _ in range(5):
                (hit,) = memory.recall("boiler serviced March", "u", k=1)
            memory.store.backend.flush()
        assert made["engrams"] == 0 and made["engrams_accesses"] == 1
        assert side_entries(memory) == {fact.id: 5} and row_count(memory, fact.id) == 0
        assert hit.engram.stats.activations == 4  # a hit shows those before it
        (counts,) = every_read(memory, fact.id)
        assert counts[0] == 5 and counts[1] > 0
    with open_chroma(tmp_path, hashing) as again:
        assert every_read(again, fact.id) == {counts}


SCENARIO = (
    "recall",
    "recall",
    "flush",
    "recall",
    "update",
    "feedback",
    "remember again",
    "recall",
    "flush",
)


def play(memory: EngramMemory, fact_id: str, step: str) -> None:
    steps: dict[str, Callable[[], object]] = {
        "recall": lambda: memory.recall("boiler", "u"),
        "flush": memory.store.backend.flush,
        "update": lambda: memory.update(fact_id, "u", metadata={"room": "cellar"}),
        "feedback": lambda: memory.feedback(fact_id, "u", useful=True),
        "remember again": lambda: memory.remember(BOILER, "u"),
    }
    steps[step]()


def test_whole_row_writes_keep_the_counts_sqlite_keeps(tmp_path, hashing):
    """After each step, the counts read on Chroma are SQLite's; a whole-row write carries the
    side entry's counts into the row and drops it."""
    with (
        EngramMemory(tmp_path / "m.db", encoder=hashing, config=HOLD) as reference,
        open_chroma(tmp_path, hashing) as memory,
    ):
        ids = [m.remember(BOILER, "u").id for m in (reference, memory)]
        for step in SCENARIO:
            play(reference, ids[0], step)
            play(memory, ids[1], step)
            expected = reference.get(ids[0], "u").stats.activations
            assert memory.get(ids[1], "u").stats.activations == expected, step
            if step in ("update", "remember again"):
                assert side_entries(memory) == {} and row_count(memory, ids[1]) == expected
        assert side_entries(memory) == {ids[1]: 5} and row_count(memory, ids[1]) == 4


def test_a_store_made_before_the_side_collection_reads_its_rows_counts(tmp_path, hashing):
    """The code before counted recalls in the row's metadata: such a row, with no side entry,
    reads its own counts, and a recall counts on from them."""
    with open_chroma(tmp_path, hashing) as memory:
        fact = memory.remember(BOILER, "u")
        rows = chroma_of(memory).rows
        rows.update(ids=[fact.id], metadatas=[{"activations": 7, "last_access_ts": 1.7e9}])
    with open_chroma(tmp_path, hashing) as memory:
        assert every_read(memory, fact.id) == {(7, 1.7e9)}
        memory.recall("boiler", "u")
        memory.store.backend.flush()
        assert side_entries(memory) == {fact.id: 8} and row_count(memory, fact.id) == 7
        (counts,) = every_read(memory, fact.id)
        assert counts[0] == 8 and counts[1] > 1.7e9


def test_whole_log_and_scope_reads_come_in_pages(tmp_path: Path, hashing, monkeypatch):
    """`verify_audit`'s whole-log read and a scope's scan page through Chroma (one `get` of a
    whole collection fails past SQLite's ~32k bound variables): with pages of 3, every row and
    every audit entry still comes back, in order, and the chain verifies; with an entry gone,
    appends still find the log's end the same way."""
    monkeypatch.setattr("engram_agents.store.backends.chroma._PAGE", 3)
    with open_chroma(tmp_path, hashing) as memory:
        stored = memory.remember_many([f"note {n} about the garden" for n in range(8)], "u")
        memory.delete(stored[0].id, "u")
        backend = chroma_of(memory)
        unbounded: list[str] = []
        for name in ("audit", "rows"):
            collection = getattr(backend, name)
            plain = collection.get

            def bounded(*args, _plain=plain, _name=name, **kwargs):
                if not kwargs.get("ids") and not kwargs.get("limit"):
                    unbounded.append(_name)
                return _plain(*args, **kwargs)

            monkeypatch.setattr(collection, "get", bounded)
        events = backend.audit_events()
        assert [e.seq for e in events] == list(range(1, len(events) + 1)) and len(events) >= 2
        assert {r.id for r in backend.scan("u")} == {e.id for e in stored[1:]}
        assert memory.verify_audit() == len(events)
        # an entry gone missing (and no tail note): the next append finds the log's end by
        # reading it in pages, numbers on after it, and verify_audit names the gap
        backend.audit.delete(ids=[f"{len(events) - 1:012d}"])
        backend.state.delete(ids=["audit:tail"])
        backend.append_audit([AuditEvent("u", "recall", [stored[1].id])])
        assert max(e.seq for e in backend.audit_events()) == len(events) + 1
        with pytest.raises(AuditIntegrityError):
            memory.verify_audit()
        assert unbounded == []
