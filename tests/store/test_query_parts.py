"""A question about several things: each part is ranked alone, the parts' results are taken in
turn, and the whole question's dense floor still holds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.encoders import encode_checked
from engram_agents.store.query_parts import interleaved, parts_of

ORDER = "Put these in order: the Lisbon job offer, my Ghent talk, the dentist visit"
FACTS = [
    "Lisbon sent me the job offer letter today.",
    "My Ghent talk on compilers went really well.",
    "The dentist visit is booked, the filling was fine.",
    "Let's put these boxes in order before the move.",
    "In order to move, I need these boxes and tape.",
    "Put the order in for these chairs, please.",
    "The weather in Lisbon was lovely.",
    "Ghent has great waffles.",
]


@pytest.mark.parametrize(
    ("query", "parts"),
    [
        (
            "Put these in order: the Lisbon offer, my Ghent talk, and sending the application.",
            [
                "Put these in order: the Lisbon offer",
                "Put these in order: my Ghent talk",
                "Put these in order: sending the application",
            ],
        ),
        (
            "What did we pick: Postgres, SQLite or DuckDB?",
            ["What did we pick: Postgres", "What did we pick: SQLite", "What did we pick: DuckDB"],
        ),
        (
            "What do Jon and Gina both have in common?",
            ["What do Jon have in common?", "What do Gina have in common?"],
        ),
        (
            "Which city have both Jean and John visited?",
            ["Which city have Jean visited?", "Which city have John visited?"],
        ),
        (
            "Did Zoë and Ángel both like bread and butter?",
            ["Did Zoë like bread and butter?", "Did Ángel like bread and butter?"],
        ),
        ("Did we both like bread and butter?", []),
        ("Note: what did I say about pros and cons?", []),  # two items read as one thing
        ("Branch names: a prefix, a ticket and a slug.", []),  # a statement that lists
        (
            "Order the following: the move, the job, the dog.",
            [
                "Order the following: the move",
                "Order the following: the job",
                "Order the following: the dog",
            ],
        ),
        ("Order these: the offer, the talk", []),
        ("When did Caroline and Melanie go to the festival together?", []),  # one joint event
        ("Did I and Tom both go?", []),
        ("Remind me at 10:30, the stand-up, the review and lunch", []),  # no lead before a ": "
        ("Order these: " + ", ".join(f"item {i}" for i in range(7)), []),  # too many to rank
        ("What is my dog called?", []),
    ],
)
def test_parts_of(query, parts):
    assert parts_of(query) == parts


def test_interleaved_takes_each_ranking_in_turn_and_each_id_once():
    got = interleaved([["a", "b", "c"], ["b", "d"], ["e"]])
    assert got == [(0, 0), (1, 0), (2, 0), (1, 1), (0, 2)]
    assert interleaved([]) == [] and interleaved([[], []]) == []


def _memory(tmp_path, hashing) -> EngramMemory:
    mem = EngramMemory(tmp_path / "parts.db", encoder=hashing)
    mem.remember_many(FACTS, "u")
    return mem


def test_each_part_finds_its_memory(tmp_path, hashing):
    mem = _memory(tmp_path, hashing)
    hits = mem.recall(ORDER, "u", k=6)
    texts = [h.engram.text for h in hits]
    for part in parts_of(ORDER):
        (best,) = mem.recall(part, "u", k=1)
        assert best.engram.text in texts
    found = [h for h in hits if "found for part of the question" in h.explanation]
    assert found and all(any(repr(p) in h.explanation for p in parts_of(ORDER)) for h in found)
    # what plain dense retrieval of the whole question puts in its top 6 misses one of them
    vectors = encode_checked(hashing, FACTS)
    (q,) = encode_checked(hashing, [ORDER])
    dense_top = {FACTS[i] for i in np.argsort(-(vectors @ q), kind="stable")[:6]}
    assert not set(FACTS[:3]) <= dense_top


def test_the_whole_questions_dense_floor_holds(tmp_path, hashing):
    mem = _memory(tmp_path, hashing)
    stored = [e.text for e in mem.list("u")]  # a near-duplicate of another is not kept
    vectors = encode_checked(hashing, stored)
    (q,) = encode_checked(hashing, [ORDER])
    by_dense = [stored[i] for i in np.argsort(-(vectors @ q), kind="stable")]
    for k in range(1, len(stored) + 1):
        texts = [h.engram.text for h in mem.recall(ORDER, "u", k=k)]
        for n in range(1, len(texts) + 1):
            assert set(by_dense[: math.floor(0.5 * n + 1e-9)]) <= set(texts[:n])


def test_scores_fall_and_parts_sum_to_the_score(tmp_path, hashing):
    hits = _memory(tmp_path, hashing).recall(ORDER, "u", k=8)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    for hit in hits:
        assert sum(hit.parts.values()) == pytest.approx(hit.score, abs=1e-5)
    assert any("query_parts" in h.parts or "dense_floor" in h.parts for h in hits)


def test_a_given_query_vector_gives_the_same_hits(tmp_path, hashing):
    """The server encodes queries in batches and passes their vectors: the parts are encoded
    by the store either way."""
    mem = _memory(tmp_path, hashing)
    (q,) = encode_checked(hashing, [ORDER])
    plain = mem.recall(ORDER, "u", k=5)
    given = mem.store.recall("u", ORDER, k=5, qvec=q)
    assert [h.engram.id for h in plain] == [h.engram.id for h in given]
    assert [h.explanation for h in plain] == [h.explanation for h in given]


def test_a_store_can_rank_every_question_as_one(tmp_path, hashing):
    config = StoreConfig(query_parts=False)
    mem = EngramMemory(tmp_path / "whole.db", encoder=hashing, config=config)
    mem.remember_many(FACTS, "u")
    hits = mem.recall(ORDER, "u", k=6)
    assert not any("part of the question" in h.explanation for h in hits)
    assert all("query_parts" not in h.parts for h in hits)
