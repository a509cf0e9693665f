"""Recall queries encoded together on the server's event loop. A recall route run in the thread
pool costs a thread hop per request (~0.4 ms of CPU under load) only so that its blocking
encode can meet the others in the encoder's batcher. Here the route stays on the event loop:
the queries that arrive while one encode runs wait on futures, and the next encode takes all of
them in one call on a worker thread (one hop per batch); the ranking then runs with each
query's vector. Alone, a query is encoded at once, with no timer."""

from __future__ import annotations

import asyncio

import anyio.to_thread
import numpy as np

from engram_agents.store.encoders import Encoder, encode_checked


class QueryEncoder:
    """`await queries.encode(text)`: the query's normalized vector (as `encode_checked` gives
    it), encoded in one batch with the queries waiting at the same time. If a batch fails, its
    queries are encoded one by one, so each caller gets only its own error."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._waiting: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        self._drain: asyncio.Task[None] | None = None  # the running encodes, None when idle

    async def encode(self, text: str) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._waiting.append((text, future))
        if self._drain is None:  # a task of its own: a caller that goes away stops no batch
            self._drain = loop.create_task(self._encode_waiting())
        return await future

    async def _encode_waiting(self) -> None:
        batch: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._encode_batch(batch)
        except BaseException:  # cancelled (the server stops): nobody may wait on a dead batch
            for _, future in [*batch, *self._waiting]:
                future.cancel()
            self._waiting = []
            raise
        finally:
            self._drain = None

    async def _encode_batch(self, batch: list[tuple[str, asyncio.Future[np.ndarray]]]) -> None:
        try:
            rows = await anyio.to_thread.run_sync(
                encode_checked, self.encoder, [text for text, _ in batch]
            )
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], error=exc)
                return
            for one in batch:  # someone's query broke the batch: find out whose
                await self._encode_batch([one])
            return
        for (_, future), row in zip(batch, rows, strict=True):
            _settle(future, row)


def _settle(
    future: asyncio.Future[np.ndarray],
    row: np.ndarray | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():  # its request was cancelled (the client went away)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(row)
