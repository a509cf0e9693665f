"""A writer SIGKILLed at random points, many times: after every kill each acknowledged write is
there (with its acknowledged text), each acknowledged delete is gone, no text is stored twice,
SQLite's quick_check is ok and the audit chain verifies and never shrinks.

Seeded: the seed is printed and named in every failure; rerun one with ENGRAM_KILL_SEED=<seed>.
The writers fork from one forkserver that imported engram_agents once (tests/store/kill_writer.py)
so a kill round costs a fork, not an interpreter start."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import sqlite3
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import kill_writer
import pytest

KILLS = 30


def _start_writer(ctx, path: Path, seed: int, acks: Path):
    writer = ctx.Process(target=kill_writer.write_forever, args=(str(path), seed, str(acks)))
    writer.start()
    deadline = time.monotonic() + 120
    while not (acks.exists() and acks.read_text().startswith('["ready"]')):
        assert writer.is_alive(), f"writer {seed} died before it was ready"
        assert time.monotonic() < deadline, f"writer {seed} not ready after 120 s"
        time.sleep(0.01)
    return writer


def _records(acks: Path) -> list[list]:
    """The writer's complete lines (a line cut by the kill is not an acknowledgement)."""
    text = acks.read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()[1:]]


class Acknowledged:
    """What the writers acknowledged: engrams alive (with their text, when known) and deleted."""

    def __init__(self) -> None:
        self.alive: dict[str, str | None] = {}
        self.gone: set[str] = set()
        self.writes = 0

    def apply(self, records: list[list]) -> tuple[str, list[str]] | None:
        """Apply the "done" records; returns the verb left in flight (and its ids), if any."""
        pending = None
        for kind, verb, payload in records:
            if kind == "do":
                pending = (verb, payload)
                continue
            pending = None
            self.writes += 1
            if verb in ("delete", "consolidate"):
                for engram_id in payload:
                    self.alive.pop(engram_id, None)
                    self.gone.add(engram_id)
            elif verb != "feedback":
                for engram_id, text in payload:
                    assert engram_id not in self.gone, f"{verb} brought back deleted {engram_id}"
                    self.alive[engram_id] = text
        return pending


def _check(path: Path, acked: Acknowledged, pending, audit_before: int, where: str) -> int:
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA quick_check").fetchall() == [("ok",)], where
    mem = kill_writer.open_memory(str(path))
    try:
        stored = {e.id: e.text for e in mem.list(kill_writer.USER, include_superseded=True)}
        audit = mem.verify_audit()
    finally:
        mem.close()
    verb, ids = pending or (None, [])
    unsure = set(ids) if verb in ("delete", "update") else set()
    for engram_id, text in acked.alive.items():
        if verb == "delete" and engram_id in unsure:
            continue  # deleted or not: the delete was in flight
        assert engram_id in stored, f"acknowledged engram {engram_id} lost ({where})"
        if text is not None and engram_id not in unsure:
            assert stored[engram_id] == text, f"acknowledged text of {engram_id} lost ({where})"
    resurrected = acked.gone & stored.keys()
    assert not resurrected, f"acknowledged deletes came back: {resurrected} ({where})"
    twice = [t for t, n in Counter(stored.values()).items() if n > 1]
    assert not twice, f"stored twice: {twice} ({where})"
    assert audit >= audit_before, f"audit chain shrank from {audit_before} to {audit} ({where})"
    for engram_id in unsure:  # the in-flight verb's outcome is now known
        if engram_id in stored:
            acked.alive[engram_id] = stored[engram_id]
        else:
            acked.alive.pop(engram_id, None)
            acked.gone.add(engram_id)
    return audit


@pytest.mark.adversarial
def test_writer_killed_at_random_points_loses_and_revives_nothing(tmp_path):
    seed = int(os.environ.get("ENGRAM_KILL_SEED", random.randrange(10**6)))
    print(f"sigkill loop seed {seed} (rerun: ENGRAM_KILL_SEED={seed})")
    rng = random.Random(seed)
    ctx = multiprocessing.get_context("forkserver")
    # engram_agents by its installed name: Python 3.11's forkserver imports its preloads before
    # it takes the test's sys.path (which holds kill_writer), so that one would be skipped
    ctx.set_forkserver_preload(["engram_agents.memory", "kill_writer"])
    path, acked, audit, mid_verb = tmp_path / "m.db", Acknowledged(), 0, 0
    for kill in range(KILLS):
        where = f"seed {seed}, kill {kill}"
        acks = tmp_path / f"acks{kill}.jsonl"
        writer = _start_writer(ctx, path, seed * 100 + kill, acks)
        time.sleep(rng.uniform(0.02, 0.5))
        writer.kill()  # SIGKILL
        writer.join()
        pending = acked.apply(_records(acks))
        mid_verb += pending is not None
        audit = _check(path, acked, pending, audit, where)
    assert acked.writes >= KILLS, f"too few acknowledged writes to mean anything (seed {seed})"
    assert mid_verb >= KILLS // 2, f"only {mid_verb} kills landed mid-verb (seed {seed})"
