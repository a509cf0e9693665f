"""Concurrent encode calls served together: while one encode runs, the calls that arrive wait,
and the next encode takes all of them in one batch. A batch of short queries costs far less than
encoding them one by one, so under concurrent recalls (a server, many agent threads) this is most
of the throughput; alone, a call runs at once, with no timer and no added latency."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np


class _Call:
    __slots__ = ("done", "error", "lead", "result", "texts", "wake")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False  # handed the next encode by the one that finished
        # held until this call is served or handed the lead: its caller blocks on acquiring it,
        # so a finished encode wakes exactly its own callers and the next leader, not every
        # waiting thread (which a shared condition does, a herd of wake-ups per batch)
        self.wake = threading.Lock()
        self.wake.acquire()


class EncodeBatcher:
    """Wraps a thread-unsafe `encode(texts) -> rows` so that many threads may call it: one call
    runs at a time (the leader), and it encodes every call queued so far, handing each caller
    its own rows. If a combined batch fails, its calls are run one by one, so a caller gets only
    its own error."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray]) -> None:
        self._encode = encode
        self._lock = threading.Lock()
        self._queue: list[_Call] = []
        self._busy = False

    def __call__(self, texts: list[str]) -> np.ndarray:
        call = _Call(list(texts))
        with self._lock:
            self._queue.append(call)
            lead, self._busy = not self._busy, True
        if not lead:
            try:
                call.wake.acquire()  # served, or handed the lead
            except BaseException:  # interrupted while queued: the others must not wait on us
                self._leave(call)
                raise
        if not call.done:
            with self._lock:
                batch, self._queue = self._queue, []
            try:
                self._run(batch)
            except BaseException as exc:  # interrupted: nobody of this batch may wait forever
                for waiting in batch:
                    waiting.error = waiting.error or exc
                    waiting.done = True
            finally:
                self._hand_on()
                for waiting in batch:
                    if waiting is not call:
                        waiting.wake.release()
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result

    def _hand_on(self) -> None:
        """The next encode goes to the oldest queued call, if any."""
        with self._lock:
            following = self._queue[0] if self._queue else None
            self._busy = following is not None
            if following is not None:
                following.lead = True
        if following is not None:
            following.wake.release()

    def _leave(self, call: _Call) -> None:
        with self._lock:
            if call in self._queue:
                self._queue.remove(call)
            handed = call.lead
        if handed:
            self._hand_on()

    def _run(self, batch: list[_Call]) -> None:
        if len(batch) > 1:
            try:
                rows = np.asarray(self._encode([t for call in batch for t in call.texts]))
            except Exception:  # someone's input broke the batch: find out whose
                rows = None
            if rows is not None:
                ends = np.cumsum([len(call.texts) for call in batch])
                for call, end in zip(batch, ends, strict=True):
                    call.result = rows[end - len(call.texts) : end]
                    call.done = True
                return
        for call in batch:
            try:
                call.result = self._encode(call.texts)
            except BaseException as exc:  # handed to its own caller
                call.error = exc
            call.done = True
