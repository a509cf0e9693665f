"""A query asked again is not encoded again (store.query_vectors), and recall gives the same hits
whether its vector came from the cache or a fresh encode."""

from __future__ import annotations

import numpy as np
import pytest

from engram_agents.errors import InvalidInputError
from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.encoders import HashingEncoder, encode_checked
from engram_agents.store.query_vectors import QueryVectors


class CountingEncoder(HashingEncoder):
    """The hashing encoder, recording every text it is asked to encode."""

    def __init__(self) -> None:
        super().__init__(dim=64)
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return super().encode(texts)


class BrokenOn(CountingEncoder):
    def __init__(self, bad: str) -> None:
        super().__init__()
        self.bad = bad

    def encode(self, texts: list[str]) -> np.ndarray:
        out = super().encode(texts)
        out[[t == self.bad for t in texts]] = np.nan
        return out


def _memory(tmp_path, encoder, **config) -> EngramMemory:
    memory = EngramMemory(tmp_path / "m.db", encoder=encoder, config=StoreConfig(**config))
    memory.remember_many(
        ["Rex the dog hates the vet", "My sister plays guitar", "Flight to Paris on Friday"], "ana"
    )
    return memory


def test_a_repeated_recall_encodes_its_query_once_and_returns_the_same_hits(tmp_path):
    encoder = CountingEncoder()
    with _memory(tmp_path, encoder) as memory:
        encoder.seen.clear()
        first = memory.recall("when is my flight?", "ana", k=2)
        again = memory.recall("when is my flight?", "ana", k=2)
        other = memory.recall("who plays guitar?", "ana", k=2)
    assert encoder.seen == ["when is my flight?", "who plays guitar?"]
    assert [h.engram.id for h in again] == [h.engram.id for h in first]
    assert [h.score for h in again] == [h.score for h in first]
    assert "Paris" in first[0].engram.text and "guitar" in other[0].engram.text


def test_query_cache_zero_encodes_every_recall(tmp_path):
    encoder = CountingEncoder()
    with _memory(tmp_path, encoder, query_cache=0) as memory:
        encoder.seen.clear()
        for _ in range(3):
            memory.recall("when is my flight?", "ana", k=2)
    assert encoder.seen == ["when is my flight?"] * 3


def test_a_batch_encodes_each_new_text_once_in_order_and_equal_to_a_fresh_encode():
    encoder = CountingEncoder()
    vectors = QueryVectors(encoder, size=8)
    vectors.encode(["b"], ["u"])
    texts = ["a", "b", "a", "c"]
    out = vectors.encode(texts, ["u"] * 4)
    assert encoder.seen == ["b", "a", "c"]
    np.testing.assert_array_equal(out, encode_checked(HashingEncoder(dim=64), texts))
    out[0] = 0  # the caller's copy: the cache keeps its own
    again = vectors.encode(["a"], ["u"])[0]
    np.testing.assert_array_equal(again, encode_checked(encoder, ["a"])[0])
    assert vectors.encode([], []).shape == (0, 64)


def test_the_least_recently_used_text_is_encoded_again():
    encoder = CountingEncoder()
    vectors = QueryVectors(encoder, size=2)
    for text in ["a", "b", "a", "c", "a", "b"]:  # "c" pushes out "b", the one least recently used
        vectors.encode([text], ["u"])
    assert encoder.seen == ["a", "b", "c", "b"]


def test_a_bad_vector_is_refused_and_not_kept():
    encoder = BrokenOn("bad")
    vectors = QueryVectors(encoder, size=8)
    with pytest.raises(InvalidInputError, match="NaN"):
        vectors.encode(["ok", "bad"], ["u", "u"])
    vectors.encode(["ok"], ["u"])
    assert encoder.seen == ["ok", "bad", "ok"]  # nothing of the failed batch was kept


def test_an_erasure_drops_the_kept_queries(tmp_path):
    encoder = CountingEncoder()
    with _memory(tmp_path, encoder) as memory:
        hit = memory.recall("when is my flight to Paris?", "ana", k=1)[0]
        memory.recall("who plays guitar?", "ana", k=1)
        encoder.seen.clear()
        memory.delete(hit.engram.id, "ana")  # the query quoted the deleted fact
        memory.recall("who plays guitar?", "ana", k=1)
    assert encoder.seen == ["who plays guitar?"]


def test_one_users_query_does_not_make_anothers_faster(tmp_path):
    """Kept per user: a tenant cannot time a recall to learn what another user asked."""
    encoder = CountingEncoder()
    vectors = QueryVectors(encoder, size=8)
    vectors.encode(["is ana pregnant?", "x"], ["ana", "bo"])
    vectors.encode(["is ana pregnant?", "is ana pregnant?"], ["bo", "ana"])
    assert encoder.seen == ["is ana pregnant?", "x", "is ana pregnant?"]  # bo's own: encoded
    with _memory(tmp_path, encoder) as memory:
        memory.remember("Rex the dog hates the vet", "bo")
        encoder.seen.clear()
        memory.recall("who hates the vet?", "ana", k=1)
        memory.recall("who hates the vet?", "bo", k=1)
        memory.recall("who hates the vet?", "ana", k=1)
    assert encoder.seen == ["who hates the vet?"] * 2
