"""The recall route runs on the event loop and encodes the queries that arrive together in one
call, then ranks them together (`RecallBatcher`): each caller still gets its own query's hits
(or its own error), and recall over HTTP under concurrency answers what the in-process recall
answers."""

from __future__ import annotations

import asyncio
import threading

import httpx
import numpy as np
import pytest

from engram_agents.errors import InvalidInputError
from engram_agents.memory import EngramMemory
from engram_agents.server import create_app
from engram_agents.server.queries import RecallBatcher
from engram_agents.store.encoders import HashingEncoder
from engram_agents.store.query_parts import parts_of
from engram_agents.store.ranker import RecallItem

TOPICS = ["dog", "dentist", "flight", "sister", "guitar", "budget", "garden", "tea"]


class SlowFirstEncoder(HashingEncoder):
    """The hashing encoder, recording each call's texts while `hold` is set (as it is from the
    start); the first such call waits until released (so the queries sent meanwhile queue up),
    and "boom" fails its call."""

    def __init__(self) -> None:
        super().__init__(64)
        self.calls: list[list[str]] = []
        self.hold = True
        self.release = threading.Event()

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.hold:
            self.calls.append(list(texts))
            if len(self.calls) == 1:
                self.release.wait(10)
        if "boom" in texts:
            raise InvalidInputError("this query cannot be encoded")
        return super().encode(texts)


def memory_of(path, encoder: SlowFirstEncoder) -> EngramMemory:
    encoder.hold = False  # the engrams are written at once, unrecorded
    memory = EngramMemory(path, encoder=encoder)
    memory.remember_many([f"my {a} plan involves the {b}" for a in TOPICS for b in TOPICS], "ana")
    memory.remember_many([f"bo's {a} is near the {b}" for a in TOPICS for b in TOPICS], "bo")
    encoder.hold = True
    return memory


async def queued(
    recalls: RecallBatcher, encoder: SlowFirstEncoder, texts: list[str], stop: bool = False
) -> list[object]:
    """Each text's outcome (hits or an error) when the first is being encoded while the others
    arrive (asked of "ana" and "bo" in turn); with `stop`, the running encode is cancelled
    before it finishes."""
    items = [RecallItem(["ana", "bo"][n % 2], t, 3) for n, t in enumerate(texts)]
    first = asyncio.create_task(recalls.recall(items[0]))
    await asyncio.sleep(0.05)  # the first encode is running
    rest = [asyncio.create_task(recalls.recall(item)) for item in items[1:]]
    await asyncio.sleep(0.05)
    if stop:
        assert recalls._drain is not None
        recalls._drain.cancel()
    encoder.release.set()
    together = asyncio.gather(first, *rest, return_exceptions=True)
    return await asyncio.wait_for(together, 5)  # a caller left waiting fails here


def answers(memory: EngramMemory, texts: list[str]) -> list[list[tuple[str, float, str]]]:
    """Each text's hits recalled in process (as `queued` asks them); none for "boom"."""
    return [
        [(h.engram.id, h.score, h.explanation) for h in memory.recall(t, ["ana", "bo"][n % 2], 3)]
        if t != "boom"
        else []
        for n, t in enumerate(texts)
    ]


def test_recalls_waiting_together_are_encoded_in_one_call_each_getting_its_own_hits(tmp_path):
    encoder = SlowFirstEncoder()
    memory = memory_of(tmp_path / "m.db", encoder)
    texts = [f"what about the {w}?" for w in ["dog", "tea", "paris", "guitar", "garden"]]
    outcomes = asyncio.run(queued(RecallBatcher(memory.store), encoder, texts))
    assert encoder.calls == [texts[:1], texts[1:]]
    got = [[(h.engram.id, h.score, h.explanation) for h in hits] for hits in outcomes]
    assert got == answers(memory, texts) and all(len(hits) == 3 for hits in got)
    memory.close()


def test_a_query_that_breaks_its_batch_fails_alone(tmp_path):
    encoder = SlowFirstEncoder()
    memory = memory_of(tmp_path / "m.db", encoder)
    texts = ["first dog", "dog", "boom", "tea"]
    first, dog, boom, tea = asyncio.run(queued(RecallBatcher(memory.store), encoder, texts))
    assert isinstance(boom, InvalidInputError)
    assert encoder.calls[1] == ["dog", "boom", "tea"]  # the batch, then one by one
    assert encoder.calls[2:] == [["dog"], ["boom"], ["tea"]]
    got = [[(h.engram.id, h.score, h.explanation) for h in hits] for hits in (first, dog, tea)]
    expected = answers(memory, texts)
    assert got == [expected[0], expected[1], expected[3]]
    memory.close()


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


def test_stopping_mid_encode_leaves_no_caller_waiting_and_the_next_loop_served(tmp_path):
    encoder = SlowFirstEncoder()
    memory = memory_of(tmp_path / "m.db", encoder)
    recalls = RecallBatcher(memory.store)
    outcomes = asyncio.run(queued(recalls, encoder, ["first", "second"], stop=True))
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
    again = asyncio.run(recalls.recall(RecallItem("ana", "the dog plan", 2)))  # a new loop
    assert [h.engram.id for h in again] == [
        h.engram.id for h in memory.recall("the dog plan", "ana", 2)
    ]
    memory.close()


def test_the_parts_of_a_many_part_question_are_encoded_in_the_batch_not_on_the_loop(tmp_path):
    encoder = SlowFirstEncoder()
    memory = memory_of(tmp_path / "m.db", encoder)
    loop_thread = threading.get_ident()
    on_loop: list[list[str]] = []
    plain_encode = encoder.encode

    def encode(texts: list[str]) -> np.ndarray:
        if threading.get_ident() == loop_thread:
            on_loop.append(list(texts))
        return plain_encode(texts)

    encoder.encode = encode
    texts = ["first", "Put these in order: the dog plan, the tea plan, the garden plan"]
    outcomes = asyncio.run(queued(RecallBatcher(memory.store), encoder, texts))
    assert on_loop == []
    assert encoder.calls[1] == [texts[1], *parts_of(texts[1])]
    encoder.hold = False
    assert [h.engram.id for h in outcomes[1]] == [
        h.engram.id for h in memory.recall(texts[1], "bo", 3)
    ]
    memory.close()
