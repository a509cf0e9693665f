"""A blocking iterator consumed from asyncio, stopped when the consumer stops.

EngramLM decodes under a lock, and a lock must be released by the thread that took it: so the
whole iterator runs in one worker thread (not one thread hop per item), its items handed to the
event loop as they come. When the consumer stops early (breaks out, is cancelled, fails), the
worker stops pulling after the item it is on, and the iterator is closed in that same thread,
so decoding ends and the model's lock is free before the async iterator finishes closing.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


async def stream_in_thread(items: Iterator[T]) -> AsyncIterator[T]:
    """Each item of `items`, pulled in one worker thread (with the caller's context variables).

    Closing this async iterator (`aclose`, `async with contextlib.aclosing(...)`, or the loop
    finalizing it after a `break`) stops the worker and waits for it, so nothing keeps decoding
    after the caller has gone.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stopped = threading.Event()

    def hand_over(kind: str, value: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

    def run() -> None:
        try:
            for item in items:
                hand_over("item", item)
                if stopped.is_set():
                    break
        except BaseException as exc:  # re-raised in the consumer
            hand_over("error", exc)
        finally:
            try:
                close = getattr(items, "close", None)
                if close is not None:
                    close()  # here, so a lock taken while decoding is released by its thread
            finally:
                hand_over("done", None)

    worker = loop.run_in_executor(None, contextvars.copy_context().run, run)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "done":
                break
            if kind == "error":
                raise value
            yield value
    finally:
        stopped.set()
        await worker
