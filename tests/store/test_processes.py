"""Durability across processes: a killed writer loses nothing acknowledged, and concurrent
writer processes all land in one valid audit chain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from engram_agents.memory import EngramMemory

WRITER = textwrap.dedent(
    """
    import sys
    from engram_agents.memory import EngramMemory
    from engram_agents.store.encoders import HashingEncoder
    mem = EngramMemory(sys.argv[1], encoder=HashingEncoder(dim=256))
    words = ["amber", "birch", "cobalt", "dune", "ember", "fjord", "garnet", "heron"]
    for i in range(int(sys.argv[3])):
        text = f"{sys.argv[2]} {words[i % 8]} {words[(i // 8) % 8]} record {i}"
        engram = mem.remember(text, "u")
        print(engram.id, flush=True)
    """
)


def _spawn(path, tag: str, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), tag, str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_killed_writer_loses_nothing_acknowledged(tmp_path, hashing):
    path = tmp_path / "m.db"
    proc = _spawn(path, "crash", 100_000)
    acknowledged = []
    for line in proc.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) >= 30:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.1)
    mem = EngramMemory(path, encoder=hashing)
    stored = {e.id for e in mem.list("u")}
    assert set(acknowledged) <= stored
    assert mem.verify_audit() >= len(acknowledged)


def test_concurrent_writer_processes(tmp_path, hashing):
    path = tmp_path / "m.db"
    EngramMemory(path, encoder=hashing).close()  # create the schema once
    procs = [_spawn(path, f"writer{n}", 15) for n in range(2)]
    ids = [line.strip() for p in procs for line in p.communicate()[0].splitlines()]
    assert all(p.returncode == 0 for p in procs)
    mem = EngramMemory(path, encoder=hashing)
    assert {e.id for e in mem.list("u")} == set(ids)
    assert len(ids) == 30
    assert mem.verify_audit() >= 30
