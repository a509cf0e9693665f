"""Concurrent encode calls served together: while one encode runs, the calls that arrive wait,
and the next encode takes all of them in one batch. A batch of short queries costs far less than
encoding them one by one, so under concurrent recalls (a server, many agent threads) this is most
of the throughput; alone, a call runs at once, with no timer and no added latency."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np


class _Call:
    __slots__ = ("done", "error", "result", "texts")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class EncodeBatcher:
    """Wraps a thread-unsafe `encode(texts) -> rows` so that many threads may call it: one call
    runs at a time (the leader), and it encodes every call queued so far, handing each caller
    its own rows. If a combined batch fails, its calls are run one by one, so a caller gets only
    its own error."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray]) -> None:
        self._encode = encode
        self._cond = threading.Condition()
        self._queue: list[_Call] = []
        self._busy = False

    def __call__(self, texts: list[str]) -> np.ndarray:
        call = _Call(list(texts))
        with self._cond:
            self._queue.append(call)
            while self._busy and not call.done:
                self._cond.wait()
            if not call.done:  # no encode running and ours not served: lead the next one
                self._busy = True
                batch, self._queue = self._queue, []
        if not call.done:
            try:
                self._run(batch)
            except BaseException as exc:  # interrupted: nobody of this batch may wait forever
                for waiting in batch:
                    waiting.error = waiting.error or exc
                    waiting.done = True
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result

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
