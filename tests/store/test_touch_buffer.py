"""Recall's access counts and audit entries are written behind (backends.touches): every recall
still ends up in the audit chain, in order, readers of this process see the counts at once, and a
crash loses only the recalls still waiting, never an engram that was written."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.backends.touches import TouchBuffer
from engram_agents.store.config import StoreConfig

# the stored base plus the recalls counted since (backends.sqlite's side table)
COUNTS_ON_DISK = (
    "SELECT e.id, e.activations + coalesce(a.activations, 0) "
    "FROM engrams e LEFT JOIN accesses a ON a.id = e.id"
)
HOLD = StoreConfig(touch_flush_s=3600, touch_buffer=1000)  # nothing is written by time or count


def _on_disk(path) -> tuple[list[str], dict[str, int]]:
    """Audit actions and activation counts as another process reading the file sees them."""
    with sqlite3.connect(path) as db:
        actions = [r[0] for r in db.execute("SELECT action FROM audit ORDER BY seq")]
        counts = dict(db.execute(COUNTS_ON_DISK))
    return actions, counts


def test_recalls_wait_in_memory_and_are_seen_at_once_by_this_process(tmp_path, hashing):
    path = tmp_path / "m.db"
    with EngramMemory(path, encoder=hashing, config=HOLD) as mem:
        fact = mem.remember("the boiler is serviced every March", "u")
        for _ in range(3):
            assert [h.engram.id for h in mem.recall("when is the boiler serviced?", "u")] == [
                fact.id
            ]
        assert mem.store.backend.pending() == 3
        actions, counts = _on_disk(path)
        assert actions == ["remember"] and counts[fact.id] == 0  # not written yet
        # ...but this process reads what writing at once would give
        hit = mem.recall("boiler", "u")[0]
        assert hit.engram.stats.activations == 3 and hit.engram.stats.last_access is not None
        assert mem.get(fact.id, "u").stats.activations == 4
    actions, counts = _on_disk(path)  # close wrote them
    assert actions.count("recall") == 4 and counts[fact.id] == 4


def test_a_write_and_an_audit_read_write_waiting_recalls_first_in_order(tmp_path, hashing):
    path = tmp_path / "m.db"
    with EngramMemory(path, encoder=hashing, config=HOLD) as mem:
        mem.remember("the boiler is serviced every March", "u")
        mem.recall("boiler", "u")
        mem.remember("the car is serviced in May", "u")
        assert mem.store.backend.pending() == 0
        assert _on_disk(path)[0] == ["remember", "recall", "remember"]
        mem.recall("car", "u")
        events = mem.store.backend.audit_events("u")
        assert [e.action for e in events] == ["remember", "recall", "remember", "recall"]
        assert mem.verify_audit() == 4
        recall_ts = events[-1].ts
    assert recall_ts <= time.time()


@pytest.mark.parametrize(("flush_s", "size"), [(3600, 1), (0.05, 1000)], ids=["full", "timer"])
def test_a_full_buffer_or_the_timer_writes_waiting_recalls(tmp_path, hashing, flush_s, size):
    path = tmp_path / "m.db"
    config = StoreConfig(touch_flush_s=flush_s, touch_buffer=size)
    with EngramMemory(path, encoder=hashing, config=config) as mem:
        fact = mem.remember("the boiler is serviced every March", "u")
        mem.recall("boiler", "u")
        deadline = time.monotonic() + 30  # a wait for the timer thread, not a timing check
        while mem.store.backend.pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _on_disk(path)[1][fact.id] == 1  # full: written by the recall that filled it


def _flushers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "engram-touch-flush"]


def _wait_until(done) -> None:
    deadline = time.monotonic() + 30  # a wait for the flusher thread, not a timing check
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_one_flusher_thread_writes_every_timed_batch_and_ends_on_close(tmp_path, hashing):
    path = tmp_path / "m.db"
    config = StoreConfig(touch_flush_s=0.02, touch_buffer=1000)
    earlier = set(_flushers())  # other tests' memories' flushers may still be winding down
    with EngramMemory(path, encoder=hashing, config=config) as mem:
        fact = mem.remember("the boiler is serviced every March", "u")
        seen = set()
        for n in range(1, 6):  # a recall, a timed write, a write of the store, again
            mem.recall("boiler", "u")
            seen.update(set(_flushers()) - earlier)
            _wait_until(lambda: not mem.store.backend.pending())
            assert _on_disk(path)[1][fact.id] == n
            mem.remember(f"note {n}: the car is serviced in May", "u")
        assert len(seen) == 1  # the same thread all along, not one started per flush
        mem.recall("boiler", "u")
    assert _on_disk(path)[1][fact.id] == 6
    _wait_until(lambda: not any(t in seen for t in _flushers()))
    assert not any(t in seen for t in _flushers())


def test_a_write_takes_the_waiting_recalls_into_its_own_transaction(tmp_path, hashing, monkeypatch):
    path = tmp_path / "m.db"
    with EngramMemory(path, encoder=hashing, config=HOLD) as mem:
        fact = mem.remember("the boiler is serviced every March", "u")
        buffer = mem.store.backend
        own_transactions = []
        monkeypatch.setattr(buffer.inner, "touch", lambda *a: own_transactions.append(a))
        mem.recall("boiler", "u")
        car = mem.remember("the car is serviced in May", "u")
        assert not own_transactions and buffer.pending() == 0
        assert _on_disk(path) == (["remember", "recall", "remember"], {fact.id: 1, car.id: 0})
        assert mem.verify_audit() == 3


@pytest.mark.parametrize("backend_can", [True, False], ids=["one-transaction", "two"])
def test_a_failed_write_keeps_its_recalls_waiting_and_counts_them_once(
    tmp_path, hashing, monkeypatch, backend_can
):
    path = tmp_path / "m.db"
    with EngramMemory(path, encoder=hashing, config=HOLD) as mem:
        fact = mem.remember("the boiler is serviced every March", "u")
        buffer = mem.store.backend
        if not backend_can:  # a backend without the combined write: the touches go first
            monkeypatch.setattr(buffer.inner, "touch_and_write", lambda *a: None)
        mem.recall("boiler", "u")
        real = type(buffer.inner)._write

        def broken(*args):
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(type(buffer.inner), "_write", broken)
        with pytest.raises(Exception, match="disk I/O error"):
            mem.remember("the car is serviced in May", "u")
        monkeypatch.setattr(type(buffer.inner), "_write", real)
        assert buffer.pending() == (1 if backend_can else 0)
        mem.remember("the car is serviced in May", "u")
        assert buffer.pending() == 0
        assert _on_disk(path)[0] == ["remember", "recall", "remember"]
        assert _on_disk(path)[1][fact.id] == 1 and mem.verify_audit() == 3


def test_a_failed_write_keeps_the_recalls_waiting(tmp_path, hashing, monkeypatch):
    path = tmp_path / "m.db"
    with EngramMemory(path, encoder=hashing, config=HOLD) as mem:
        fact = mem.remember("the boiler is serviced every March", "u")
        mem.recall("boiler", "u")
        buffer = mem.store.backend
        assert isinstance(buffer, TouchBuffer)
        real = buffer.inner.touch

        def broken(accesses, events):
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(buffer.inner, "touch", broken)
        with pytest.raises(sqlite3.OperationalError):
            buffer.flush()
        assert buffer.pending() == 1
        mem.recall("boiler", "u")  # a newer recall queues behind the kept one
        monkeypatch.setattr(buffer.inner, "touch", real)
        assert mem.verify_audit() == 3
        assert _on_disk(path)[1][fact.id] == 2


def test_zero_flush_time_writes_each_recall_at_once(tmp_path, hashing):
    path = tmp_path / "m.db"
    with EngramMemory(path, encoder=hashing, config=StoreConfig(touch_flush_s=0)) as mem:
        assert not isinstance(mem.store.backend, TouchBuffer)
        fact = mem.remember("the boiler is serviced every March", "u")
        mem.recall("boiler", "u")
        assert _on_disk(path) == (["remember", "recall"], {fact.id: 1})


RECALLER = textwrap.dedent(
    """
    import os, sys
    from engram_agents.memory import EngramMemory
    from engram_agents.store.config import StoreConfig
    from engram_agents.store.encoders import HashingEncoder
    config = StoreConfig(touch_flush_s=3600, touch_buffer=1000)
    mem = EngramMemory(sys.argv[1], encoder=HashingEncoder(dim=256), config=config)
    mem.remember("the boiler is serviced every March", "u")
    mem.recall("boiler", "u")
    mem.recall("boiler", "u")
    if sys.argv[2] == "crash":
        os._exit(0)  # killed: nothing runs after this
    # "exit": the interpreter ends without close(); its exit hook writes what waits
    """
)


@pytest.mark.parametrize("ending", ["crash", "exit"])
def test_a_crash_loses_only_the_waiting_recalls(tmp_path, hashing, ending):
    path = tmp_path / "m.db"
    subprocess.run([sys.executable, "-c", RECALLER, str(path), ending], check=True)
    with EngramMemory(path, encoder=hashing) as mem:
        (fact,) = mem.list("u")  # the acknowledged write survives either way
        assert mem.verify_audit() >= 2
        recalls = [e for e in mem.store.backend.audit_events("u") if e.action == "recall"]
        if ending == "crash":
            assert recalls == [] and fact.stats.activations == 0
        else:
            assert len(recalls) == 2 and fact.stats.activations == 2


def test_the_erasure_feed_reads_past_waiting_recalls_and_misses_no_erasure(tmp_path, hashing):
    """A poll of the feed writes nothing, yet sees each erasure at once, in order, at the
    position it keeps after the waiting recalls are written (they land past the cursor)."""
    with EngramMemory(tmp_path / "m.db", encoder=hashing, config=HOLD) as mem:
        buffer = mem.store.backend
        texts = ["the boiler is serviced every March", "the car is serviced in May", "a cat"]
        a, b, _ = (mem.remember(t, "u", session_id=f"s{n}") for n, t in enumerate(texts))
        mem.recall("boiler", "u")
        start = mem.erasures("u")
        assert start.erasures == [] and buffer.pending() == 1
        mem.delete(a.id, "u")  # writes the waiting recall first, in its own transaction
        mem.recall("car", "u")
        mem.recall("cat", "u")
        first = mem.erasures("u", start.cursor)
        assert buffer.pending() == 2  # the feed wrote nothing
        assert [(e.action, e.engram_ids) for e in first.erasures] == [("delete", [a.id])]
        mem.forget("u", session_id="s1")
        mem.recall("cat", "u")
        second = mem.erasures("u", first.cursor)
        assert [(e.action, e.engram_ids) for e in second.erasures] == [("forget", [b.id])]
        assert buffer.pending() == 1 and mem.erasures("u", second.cursor).erasures == []
        buffer.flush()
        whole = mem.erasures("u")
        assert whole.erasures == first.erasures + second.erasures  # same positions, same order
        assert whole.cursor == second.cursor + 1  # the recall written since lies past the cursor
        actions = [e.action for e in mem.store.backend.audit_events("u")]
        assert actions.count("recall") == 4 and mem.verify_audit() == len(actions)
