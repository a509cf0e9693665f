"""Recalls encoded and ranked together on the server's event loop. A recall route run in the
thread pool costs a thread hop per request (~0.4 ms of CPU under load) only so that its
blocking encode can meet the others in the encoder's batcher. Here the route stays on the event
loop: the recalls that arrive while one encode runs wait on futures, and the next encode takes
all of their queries in one call on a worker thread (one hop per batch); the batch is then
ranked in one `recall_many` on the loop (one lock, one index check and one read of hit rows per
user, one write-behind of the access counts), while the next batch encodes. Alone, a recall is
encoded at once, with no timer. A question about several things has its parts encoded in the
batch too, so nothing is encoded on the loop."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import anyio.to_thread
import numpy as np

from engram_agents.store.ranker import RecallItem
from engram_agents.store.records import RecallHit
from engram_agents.store.store import EpisodicStore

_Waiting = tuple[RecallItem, "asyncio.Future[list[RecallHit]]"]


class RecallBatcher:
    """`await recalls.recall(item)`: the item's hits, its query encoded in one batch with the
    recalls waiting at the same time and ranked with them. Each caller gets only its own error:
    a failed encode is retried query by query, and `recall_many` fails items one by one."""

    def __init__(self, store: EpisodicStore) -> None:
        self.store = store
        self._waiting: list[_Waiting] = []
        self._drain: asyncio.Task[None] | None = None  # the running encodes, None when idle

    async def recall(self, item: RecallItem) -> list[RecallHit]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[RecallHit]] = loop.create_future()
        self._waiting.append((item, future))
        if self._drain is None:  # a task of its own: a caller that goes away stops no batch
            self._drain = loop.create_task(self._encode_waiting())
        return await future

    async def _encode_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        batch: list[_Waiting] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                vectors = await self._encoded([item for item, _ in batch])
                loop.call_soon(self._rank, batch, vectors)  # after the next encode has started
                batch = []
        except BaseException:  # cancelled (the server stops): nobody may wait on a dead batch
            for _, future in [*batch, *self._waiting]:
                future.cancel()
            self._waiting = []
            raise
        finally:
            self._drain = None

    async def _encoded(self, items: list[RecallItem]) -> list[np.ndarray | Exception]:
        """The items' query vectors, encoded on a worker thread with the parts of questions
        about several things (store.query_parts), which the ranking then finds among the
        store's recent query vectors instead of encoding them on the loop."""
        texts, users = [i.query for i in items], [i.user_id for i in items]
        parts = [(part, i.user_id) for i in items for part in self.store.parts_of(i.query)]
        texts_and_parts = texts + [part for part, _ in parts]
        users_and_parts = users + [user for _, user in parts]
        encode = self.store.query_vectors.encode
        try:
            vectors = await anyio.to_thread.run_sync(encode, texts_and_parts, users_and_parts)
            return list(vectors[: len(items)])
        except Exception as exc:
            if len(items) == 1:
                return [exc]
            # someone's query broke the batch: find out whose
            return [(await self._encoded([item]))[0] for item in items]

    def _rank(self, batch: list[_Waiting], vectors: list[np.ndarray | Exception]) -> None:
        ready = [
            (replace(item, qvec=vector), future)
            for (item, future), vector in zip(batch, vectors, strict=True)
            if not isinstance(vector, Exception) and not future.done()
        ]
        for (_, future), vector in zip(batch, vectors, strict=True):
            if isinstance(vector, Exception):
                _settle(future, error=vector)
        try:
            results = self.store.recall_many([item for item, _ in ready])
        except Exception as exc:  # the batch's shared write failed: each recall's error
            results = [exc] * len(ready)
        for (_, future), result in zip(ready, results, strict=True):
            if isinstance(result, Exception):
                _settle(future, error=result)
            else:
                _settle(future, result)


def _settle(
    future: asyncio.Future[list[RecallHit]],
    hits: list[RecallHit] | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():  # its request was cancelled (the client went away)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(hits)
