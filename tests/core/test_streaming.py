"""The sync-to-async streaming bridge both integrations use: items in order, errors raised in
the consumer, and decoding stopped (in its own thread) when the consumer stops."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import aclosing

import pytest

from engram_agents.chat import stream_in_thread

LIMIT = 10_000_000  # a producer that is never stopped runs to here


class Producer:
    """Counts up (a stand-in for decoding tokens) holding a lock like EngramLM's, and records
    how far it got and which thread closed it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.made = 0
        self.pulled_in: set[threading.Thread] = set()
        self.closed_in: threading.Thread | None = None

    def items(self) -> Iterator[int]:
        with self.lock:
            try:
                for i in range(LIMIT):
                    self.pulled_in.add(threading.current_thread())
                    self.made += 1
                    yield i
            finally:
                self.closed_in = threading.current_thread()


async def test_items_come_in_order_from_one_thread():
    producer = Producer()

    def first(n: int) -> Iterator[int]:
        for i in producer.items():
            if i == n:
                return
            yield i

    assert [i async for i in stream_in_thread(first(50))] == list(range(50))
    (worker,) = producer.pulled_in
    assert worker is not threading.current_thread() and producer.closed_in is worker


async def test_breaking_out_stops_the_producer():
    producer = Producer()
    async with aclosing(stream_in_thread(producer.items())) as stream:
        async for i in stream:
            if i == 2:
                break
    # closed before aclose returned, in the thread that decoded (and so holds the lock)
    assert producer.closed_in in producer.pulled_in
    assert producer.made < LIMIT
    assert producer.lock.acquire(blocking=False)  # released: the next call can decode
    producer.lock.release()


async def test_a_cancelled_consumer_stops_the_producer():
    producer = Producer()
    started = asyncio.Event()

    async def consume() -> None:
        async with aclosing(stream_in_thread(producer.items())) as stream:
            async for _ in stream:
                started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert producer.closed_in in producer.pulled_in and producer.made < LIMIT


async def test_errors_reach_the_consumer():
    def failing() -> Iterator[str]:
        yield "a"
        raise ValueError("bad token")

    got = []
    with pytest.raises(ValueError, match="bad token"):
        async for item in stream_in_thread(failing()):
            got.append(item)
    assert got == ["a"]
