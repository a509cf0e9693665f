"""Recalls before writes when the server is saturated. An agent waits on its recall before it
can answer; its remember is written after the answer and waited on by nobody. When requests
queue, every client's next request waits behind the ones ahead of it, and in a loop of N
clients the mean wait is N / throughput (Little's law) whatever the order: serving recalls
first moves that wait onto the writes, where it is not felt. A write waits while any recall is
in flight, at most `patience` seconds, so writes still flow under a steady stream of recalls;
on a server that keeps up, recalls rarely overlap a write and nothing waits. The waiting is
done on the event loop, so a waiting write holds no worker thread that a delete could need.
Off by default: on 2 idle cores it cut the recall tail but also recall throughput (smaller
encode batches; benchmarks/RESULTS.md, Service)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from engram_agents.errors import InvalidInputError

DEFAULT_PATIENCE_S = 0.0
MAX_PATIENCE_S = 60.0


def checked_patience(seconds: float) -> float:
    if not 0 <= seconds <= MAX_PATIENCE_S:  # NaN fails too
        raise InvalidInputError(
            f"write patience must be between 0 and {MAX_PATIENCE_S:g} seconds, got {seconds!r}"
        )
    return seconds


class ReadsFirst:
    """`with gate.reading():` around a recall, `await gate.wait_turn()` before a write; both on
    the server's event loop. `patience` 0 turns the priority off."""

    def __init__(self, patience: float = DEFAULT_PATIENCE_S) -> None:
        self.patience = checked_patience(patience)
        self._reading = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @contextmanager
    def reading(self) -> Iterator[None]:
        self._reading += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._reading -= 1
            if not self._reading:
                self._quiet.set()

    async def wait_turn(self) -> bool:
        """Wait until no recall is in flight or the patience runs out; True if it ran out."""
        if not self.patience or self._quiet.is_set():
            return False
        try:
            await asyncio.wait_for(self._quiet.wait(), self.patience)
        except TimeoutError:
            return True
        return False
