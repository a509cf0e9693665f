"""Recall's access counts live in a small side table of the SQLite store (backends.sqlite): every
read path sees the stored base plus the recalls since, a whole-row write neither loses nor
doubles them, a delete or forget leaves no row of them behind (nor of the Chroma store's side
collection, see test_chroma_accesses), a file made before the table keeps its counts, and writer
processes recalling at once lose no touch."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig

HOLD = StoreConfig(touch_flush_s=3600, touch_buffer=1000)  # written by a write, flush or close
BOILER = "the boiler is serviced every March"


def _side_rows(path) -> dict[str, tuple[int, float]]:
    with closing(sqlite3.connect(path)) as db:
        return {i: (n, ts) for i, n, ts in db.execute("SELECT * FROM accesses")}


def _base(path, engram_id: str) -> tuple[int, float]:
    with closing(sqlite3.connect(path)) as db:
        sql = "SELECT activations, last_access_ts FROM engrams WHERE id = ?"
        return db.execute(sql, (engram_id,)).fetchone()


def _every_read(mem: EngramMemory, engram_id: str) -> dict[str, tuple[int, float]]:
    """(activations, last access time) of one engram through each way the store reads them."""

    def pair(engram) -> tuple[int, float]:
        return engram.stats.activations, engram.stats.last_access.timestamp()

    (listed,) = [e for e in mem.list("u") if e.id == engram_id]
    (exported,) = [e for e in mem.export("u")["engrams"] if e["id"] == engram_id]
    backend = mem.store.backend
    (scanned,) = [r for r in backend.scan("u") if r.id == engram_id]
    (record,) = backend.records_many({"u": [engram_id]})["u"]
    index = mem.store._index("u")
    return {
        "get": pair(mem.get(engram_id, "u")),
        "list": pair(listed),
        "export": (exported["stats"]["activations"], pair(listed)[1]),
        "scan": (scanned.activations, scanned.last_access_ts),
        "records_many": (record.activations, record.last_access_ts),
        "index": (scanned.activations, float(index.fields["last_access_ts"][index.pos[engram_id]])),
    }


@pytest.mark.parametrize("config", [HOLD, StoreConfig(touch_flush_s=0)], ids=["held", "at-once"])
def test_every_read_path_sees_the_recalls_counted_in_the_side_table(tmp_path, hashing, config):
    path = tmp_path / "m.db"
    with EngramMemory(path, encoder=hashing, config=config) as mem:
        fact = mem.remember(BOILER, "u")
        mem.remember("the car is serviced in May", "u")
        for _ in range(5):
            (hit,) = mem.recall("boiler serviced March", "u", k=1)
        mem.store.backend.checkpoint()  # writes what waits
        side = _side_rows(path)
        assert set(side) == {fact.id} and side[fact.id][0] == 5
        assert _base(path, fact.id)[0] == 0  # the big row was not rewritten
        last = side[fact.id][1]
        assert hit.engram.stats.activations == 4 and last > 0  # a hit shows those before it
        assert set(_every_read(mem, fact.id).values()) == {(5, last)}
    with EngramMemory(path, encoder=hashing) as again:  # another handle, its index read anew
        assert set(_every_read(again, fact.id).values()) == {(5, last)}


def test_a_whole_row_write_of_a_recalled_engram_keeps_its_counts_once(tmp_path, hashing):
    path = tmp_path / "m.db"
    with EngramMemory(path, encoder=hashing, config=HOLD) as mem:
        fact = mem.remember(BOILER, "u")
        mem.recall("boiler", "u")
        mem.recall("boiler", "u")
        mem.store.backend.flush()
        mem.recall("boiler", "u")  # still waiting when the update reads and writes the row
        mem.update(fact.id, "u", metadata={"room": "cellar"})
        assert _side_rows(path) == {}  # the write made them the base, in its transaction
        assert _base(path, fact.id)[0] == 3
        assert mem.get(fact.id, "u").stats.activations == 3
        mem.feedback(fact.id, "u", useful=True)
        again = mem.remember(BOILER, "u")  # said again: reinforced, one more
        assert again.id == fact.id and again.stats.activations == 4
        mem.recall("boiler", "u")
    with EngramMemory(path, encoder=hashing) as reopened:
        assert reopened.get(fact.id, "u").stats.activations == 5
        assert _side_rows(path)[fact.id][0] == 1 and _base(path, fact.id)[0] == 4


def _chroma_side(mem: EngramMemory) -> set[str]:
    return set(mem.store.backend.inner.accesses.get(include=[])["ids"])


BACKENDS = {  # how to open each, and the ids its side table (or collection) counts
    "sqlite": (EngramMemory, "m.db", lambda mem: set(_side_rows(mem.store.backend.path))),
    "chroma": (EngramMemory.chroma, "chroma", _chroma_side),
}


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_delete_and_forget_leave_no_side_row_and_a_late_touch_writes_none(tmp_path, hashing, kind):
    opener, name, side = BACKENDS[kind]

    def open_memory(**kwargs) -> EngramMemory:
        return opener(tmp_path / name, encoder=hashing, **kwargs)

    with open_memory(config=HOLD) as mem:
        texts = [BOILER, "the car is serviced in May", "the cat eats at noon"]
        a, b, c = (mem.remember(t, "u", session_id=f"s{n}") for n, t in enumerate(texts))
        for query in ("boiler", "car", "cat"):
            mem.recall(query, "u")
        mem.store.backend.flush()
        assert side(mem) == {a.id, b.id, c.id}
        mem.delete(a.id, "u")
        mem.forget("u", session_id="s1")
        assert side(mem) == {c.id}
        mem.recall("cat", "u")  # waits in this handle's buffer...
        with open_memory() as other:
            other.delete(c.id, "u")  # ...while another handle deletes the engram
        mem.store.backend.flush()  # the touch of an id no longer stored writes nothing
        assert side(mem) == set() and mem.list("u") == []


def _old_file(path, encoder) -> None:
    """A store as the code before the side table wrote it: no `accesses` table, recalls counted
    by rewriting the engram's row."""
    with EngramMemory(path, encoder=encoder, config=HOLD) as mem:
        mem.remember(BOILER, "u")
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DROP TABLE accesses")
        old_touch = "UPDATE engrams SET activations = activations + ?, last_access_ts = ?"
        db.execute(old_touch, (7, 1_700_000_000.0))


def test_a_file_made_before_the_side_table_opens_with_its_counts(tmp_path, hashing):
    path = tmp_path / "old.db"
    _old_file(path, hashing)
    with EngramMemory(path, encoder=hashing, config=HOLD) as mem:
        (fact,) = mem.list("u")
        assert fact.stats.activations == 7
        assert fact.stats.last_access.timestamp() == 1_700_000_000.0
        mem.recall("boiler", "u")
    assert _base(path, fact.id) == (7, 1_700_000_000.0)  # the old count stays as the base
    with EngramMemory(path, encoder=hashing) as mem:
        got = mem.get(fact.id, "u")
        assert got.stats.activations == 8 and got.stats.last_access.timestamp() > 1_700_000_000
        actions = [e.action for e in mem.store.backend.audit_events("u")]
        assert actions.count("recall") == 1 and mem.verify_audit() == len(actions)


RECALLER = textwrap.dedent(
    """
    import sys
    from engram_agents.memory import EngramMemory
    from engram_agents.store.config import StoreConfig
    from engram_agents.store.encoders import HashingEncoder
    config = StoreConfig(touch_flush_s=0.01, touch_buffer=int(sys.argv[3]))
    with EngramMemory(sys.argv[1], encoder=HashingEncoder(dim=256), config=config) as mem:
        for n in range(int(sys.argv[2])):
            assert len(mem.recall("boiler serviced", "u", k=2)) == 2
            if n % 10 == 0:  # another engram's whole-row write between the touches
                mem.remember(f"note {n} from {sys.argv[4]}", "u")
    """
)


def test_writer_processes_recalling_at_once_lose_no_touch(tmp_path, hashing):
    path = tmp_path / "m.db"
    with EngramMemory(path, encoder=hashing) as mem:
        facts = [mem.remember(BOILER, "u"), mem.remember("the boiler was serviced late", "u")]
    recalls, buffers = 40, ["1", "7", "1000"]
    procs = [
        subprocess.Popen([sys.executable, "-c", RECALLER, str(path), str(recalls), size, f"p{n}"])
        for n, size in enumerate(buffers)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0] * len(procs)
    with EngramMemory(path, encoder=hashing) as mem:
        counts = [mem.get(f.id, "u").stats.activations for f in facts]
        recall_entries = [e for e in mem.store.backend.audit_events("u") if e.action == "recall"]
        assert mem.verify_audit() > 0
    assert counts == [recalls * len(buffers)] * 2
    assert len(recall_entries) == recalls * len(buffers)
