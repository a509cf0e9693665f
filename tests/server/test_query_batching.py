"""The recall route runs on the event loop and encodes the queries that arrive together in one
call (`QueryEncoder`): each caller still gets its own query's vector (or its own error), and
recall over HTTP under concurrency answers what the in-process recall answers."""

from __future__ import annotations

import asyncio
import threading

import httpx
import numpy as np
import pytest

from engram_agents.errors import InvalidInputError
from engram_agents.memory import EngramMemory
from engram_agents.server import create_app
from engram_agents.server.queries import QueryEncoder
from engram_agents.store.encoders import HashingEncoder, encode_checked


class SlowFirstEncoder(HashingEncoder):
    """The hashing encoder, recording each call's texts; the first call waits until released
    (so the queries sent meanwhile queue up), and a text "boom" fails its call."""

    def __init__(self) -> None:
        super().__init__(64)
        self.calls: list[list[str]] = []
        self.release = threading.Event()

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.release.wait(10)
        if "boom" in texts:
            raise InvalidInputError("this query cannot be encoded")
        return super().encode(texts)


async def queued(
    queries: QueryEncoder, encoder: SlowFirstEncoder, texts: list[str], stop: bool = False
) -> list[object]:
    """Each text's outcome (a vector or an error) when the first is being encoded while the
    others arrive; with `stop`, the running encode is cancelled before it finishes."""
    first = asyncio.create_task(queries.encode(texts[0]))
    await asyncio.sleep(0.05)  # the first encode is running
    rest = [asyncio.create_task(queries.encode(t)) for t in texts[1:]]
    await asyncio.sleep(0.05)
    if stop:
        assert queries._drain is not None
        queries._drain.cancel()
    encoder.release.set()
    together = asyncio.gather(first, *rest, return_exceptions=True)
    return await asyncio.wait_for(together, 5)  # a caller left waiting fails here


def test_queries_waiting_together_are_encoded_in_one_call_each_getting_its_own_vector():
    encoder = SlowFirstEncoder()
    texts = [f"what about the {w}?" for w in ["dog", "tea", "paris", "guitar", "garden"]]
    vectors = asyncio.run(queued(QueryEncoder(encoder), encoder, texts))
    assert encoder.calls == [texts[:1], texts[1:]]
    expected = encode_checked(HashingEncoder(64), texts)
    np.testing.assert_allclose(np.stack(vectors), expected, rtol=1e-6)


def test_a_query_that_breaks_its_batch_fails_alone():
    encoder = SlowFirstEncoder()
    texts = ["first", "dog", "boom", "tea"]
    first, dog, boom, tea = asyncio.run(queued(QueryEncoder(encoder), encoder, texts))
    assert isinstance(boom, InvalidInputError)
    for text, vector in [("first", first), ("dog", dog), ("tea", tea)]:
        np.testing.assert_allclose(vector, encode_checked(HashingEncoder(64), [text])[0])
    assert encoder.calls[1] == ["dog", "boom", "tea"]  # the batch, then one by one
    assert encoder.calls[2:] == [["dog"], ["boom"], ["tea"]]


def test_concurrent_recalls_over_http_answer_as_in_process(tmp_path, serve_app):
    memory = EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(256))
    topics = ["dog", "dentist", "flight", "sister", "guitar", "budget", "garden", "tea"]
    memory.remember_many([f"my {a} plan involves the {b}" for a in topics for b in topics], "ana")
    url = serve_app(create_app(memory))
    questions = [f"what did I say about the {t}?" for t in topics] * 2

    async def ask_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            return await asyncio.gather(
                *(
                    http.post("/v1/users/ana/recall", json={"query": q, "k": 5})
                    for q in [*questions, ""]
                )
            )

    *answers, empty = asyncio.run(ask_all())
    assert empty.status_code == 400 and empty.json()["error"]["type"] == "InvalidInputError"
    for question, answer in zip(questions, answers, strict=True):
        assert answer.status_code == 200
        served = [(h["engram"]["id"], h["matched_tags"]) for h in answer.json()]
        local = [(h.engram.id, h.matched_tags) for h in memory.recall(question, "ana", 5)]
        assert served == local and len(served) == 5
    memory.close()


@pytest.mark.parametrize("field", ["filters", "now"])
def test_bad_recall_arguments_are_refused_on_the_event_loop_path(tmp_path, serve_app, field):
    memory = EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(256))
    memory.remember("my dog is called Rex", "ana")
    url = serve_app(create_app(memory))
    bad = {"filters": {"tier": "nonsense"}, "now": "whenever"}[field]
    with httpx.Client(base_url=url, timeout=30) as http:
        answer = http.post("/v1/users/ana/recall", json={"query": "dog", field: bad})
        assert answer.status_code == 400, answer.text
        assert len(memory.list("ana")) == 1
    memory.close()


def test_stopping_mid_encode_leaves_no_caller_waiting_and_the_next_loop_served():
    encoder = SlowFirstEncoder()
    queries = QueryEncoder(encoder)
    outcomes = asyncio.run(queued(queries, encoder, ["first", "second"], stop=True))
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
    again = asyncio.run(queries.encode("again"))  # a new event loop, nothing left behind
    np.testing.assert_allclose(again, encode_checked(HashingEncoder(64), ["again"])[0])
