"""Under load the server answers recalls before writes (`ReadsFirst`): a remember waits while a
recall is in flight, for at most the write patience, and erasures never wait."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from engram_agents.errors import InvalidInputError
from engram_agents.memory import EngramMemory
from engram_agents.server import create_app
from engram_agents.server.priority import ReadsFirst
from tests.server.test_query_batching import SlowFirstEncoder


def test_a_write_waits_for_the_recalls_in_flight_and_goes_when_they_end():
    async def scenario() -> list[object]:
        gate = ReadsFirst(patience=30)
        with gate.reading(), gate.reading():
            write = asyncio.create_task(gate.wait_turn())
            await asyncio.sleep(0.2)
            waiting = not write.done()  # two recalls in flight
        ran_out = await asyncio.wait_for(write, 5)
        alone = await asyncio.wait_for(gate.wait_turn(), 5)  # nothing in flight: no wait
        return [waiting, ran_out, alone]

    # it went because the recalls ended, not because the patience ran out
    assert asyncio.run(scenario()) == [True, False, False]


def test_patience_bounds_the_wait_and_zero_turns_the_priority_off():
    async def scenario() -> list[bool]:
        bounded, off = ReadsFirst(patience=0.05), ReadsFirst(patience=0)
        with bounded.reading(), off.reading():
            return [await bounded.wait_turn(), await off.wait_turn()]

    assert asyncio.run(scenario()) == [True, False]  # ran out while the recall went on


@pytest.mark.parametrize("seconds", [-1, 61, float("nan")])
def test_a_patience_out_of_range_is_refused(seconds):
    with pytest.raises(InvalidInputError, match="write patience"):
        ReadsFirst(seconds)


@pytest.mark.parametrize("patience", [0, 30])
def test_over_http_a_remember_is_written_after_the_recall_in_flight(tmp_path, serve_app, patience):
    encoder = SlowFirstEncoder()  # the first encode (the recall's query) waits for release
    memory = EngramMemory(tmp_path / "m.db", encoder=encoder)
    url = serve_app(create_app(memory, write_patience=patience))
    answers: dict[str, httpx.Response] = {}

    def post(name: str, path: str, body: dict) -> threading.Thread:
        def send() -> None:
            answers[name] = httpx.post(f"{url}/v1/users/ana/{path}", json=body, timeout=30)

        thread = threading.Thread(target=send)
        thread.start()
        return thread

    recall = post("recall", "recall", {"query": "what about the dog?"})
    while not encoder.calls:  # the recall's encode is running
        recall.join(0.01)
    remember = post("remember", "memories", {"content": "my dog is called Rex"})
    remember.join(0.5)
    # without priority the remember is written at once; with it, it waits for the recall
    assert remember.is_alive() is bool(patience)
    assert len(memory.list("ana")) == (0 if patience else 1)
    encoder.release.set()
    recall.join(10)
    remember.join(10)
    assert answers["recall"].status_code == 200 and answers["remember"].status_code == 201
    assert [e.text for e in memory.list("ana")] == ["my dog is called Rex"]
    memory.close()
