"""Recalls before writes when the server is saturated. An agent waits on its recall before it
can answer; its remember is written after the answer and waited on by nobody. When requests
queue, every client's next request waits behind the ones ahead of it, and in a loop of N
clients the mean wait is N / throughput (Little's law) whatever the order: serving recalls
first moves that wait onto the writes, where it is not felt. A write waits while any recall is
in flight, at most `patience` seconds, so writes still flow under a steady stream of recalls;
on a server that keeps up, recalls rarely overlap a write and nothing waits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from engram_agents.errors import InvalidInputError

DEFAULT_PATIENCE_S = 0.25
MAX_PATIENCE_S = 60.0


def checked_patience(seconds: float) -> float:
    if not 0 <= seconds <= MAX_PATIENCE_S:  # NaN fails too
        raise InvalidInputError(
            f"write patience must be between 0 and {MAX_PATIENCE_S:g} seconds, got {seconds!r}"
        )
    return seconds


class ReadsFirst:
    """`with gate.reading():` around a recall; `gate.wait_turn()` before a write (in a worker
    thread: it blocks). `patience` 0 turns the priority off."""

    def __init__(self, patience: float = DEFAULT_PATIENCE_S) -> None:
        self.patience = checked_patience(patience)
        self._lock = threading.Lock()
        self._reading = 0
        self._quiet = threading.Event()
        self._quiet.set()

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._lock:
            self._reading += 1
            self._quiet.clear()
        try:
            yield
        finally:
            with self._lock:
                self._reading -= 1
                if not self._reading:
                    self._quiet.set()

    def wait_turn(self) -> bool:
        """Wait until no recall is in flight or the patience runs out; True if it ran out."""
        return self.patience > 0 and not self._quiet.wait(self.patience)
