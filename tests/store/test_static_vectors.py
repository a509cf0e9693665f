"""Static passage vectors distilled from the embedded MiniLM: built once from the real weights
into the cache, they let a fact deep inside a long turn reach recall (the turn returned, the
passage pointing at the fact) without the transformer reading each passage."""

from __future__ import annotations

import numpy as np
import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.encoders import HashingEncoder
from engram_agents.store.errors import InvalidInputError
from engram_agents.store.passages import encode_turns
from engram_agents.store.static_vectors import StaticVectors, distill, static_vectors

FACTS = {  # fact: (question, the words of the long answer it hides in)
    "The spare key is hidden under the blue flowerpot next to the garden shed.": (
        "where is the spare key hidden?",
        "router cable switch patch panel firmware subnet gateway uplink rack fan",
    ),
    "My sister Alice is allergic to peanuts, so the party cake must be nut free.": (
        "what is Alice allergic to?",
        "invoice ledger budget quarter forecast payroll audit expense margin tax report",
    ),
}


def _long_answer(fact: str, words: str) -> str:
    """A ~4,000-character checklist answer with `fact` in its middle, far past the window."""
    w = words.split()
    steps = [
        f"{n}. Check the {w[n % 11]} and the {w[(n * 3) % 11]} before the "
        f"{w[(n * 7) % 11]}, then note the {w[(n * 5) % 11]} setting."
        for n in range(1, 60)
    ]
    return f"Here is the full {w[0]} checklist:\n" + "\n".join([*steps[:30], fact, *steps[30:]])


def test_static_passages_point_a_passage_question_at_its_turn_and_passage(minilm):
    """Over every passage of every long turn, a question about one fact is closest (static
    query to static passage) to the passage holding it, in the turn holding it."""
    texts = [_long_answer(f, words) for f, (_, words) in FACTS.items()]
    static = static_vectors(minilm)
    _, turns = encode_turns(minilm, texts, 128, static)
    assert all(len(p) >= 5 for p in turns)
    owner = np.concatenate([[i] * len(p) for i, p in enumerate(turns)])
    spans = np.concatenate([p.spans for p in turns])
    vectors = np.concatenate([p.vectors for p in turns])
    for i, (fact, (question, _)) in enumerate(FACTS.items()):
        query = static.encode_ids([minilm.tokenize([question])[0].ids])[0]
        best = int(np.argmax(vectors @ query))
        assert owner[best] == i
        assert fact in texts[i][slice(*spans[best])]


def test_a_store_with_static_passages_returns_the_long_turn_with_its_passage(tmp_path, minilm):
    config = StoreConfig(passage_vectors="static")
    (fact, (question, words)), *_ = FACTS.items()
    with EngramMemory(tmp_path / "m.db", encoder=minilm, config=config) as memory:
        memory.remember_many([_long_answer(f, w) for f, (_, w) in FACTS.items()], "u")
        memory.remember_many([f"I moved the {w} to the shelf" for w in words.split()], "u")
        hit = next(h for h in memory.recall(question, "u", k=5) if fact in h.engram.text)
    assert fact in hit.passage.text


def test_the_static_table_is_built_once_from_the_encoder_and_loaded_after(minilm):
    table = static_vectors(minilm)
    assert table.table.shape == (minilm.vocabulary_size, minilm.dim)
    again = static_vectors(minilm)  # from the cache
    assert np.array_equal(again.table, table.table)
    ids = minilm.tokenize(["spare key", "flowerpot", ""])
    vectors = table.encode_ids([t.ids for t in ids])
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1) and not vectors[2].any()


def test_static_vectors_carry_the_models_meaning_not_only_shared_words(minilm):
    """Paraphrases with no content word in common match: what a table of random token vectors
    (a bag of words) cannot do."""
    static = static_vectors(minilm)
    questions = ["what food is she allergic to?", "where did I leave the car?"]
    answers = [
        "peanuts give my sister a bad reaction",
        "the automobile is parked in the garage",
        "the quarterly budget forecast",
    ]
    q, a = (static.encode_ids([t.ids for t in minilm.tokenize(x)]) for x in (questions, answers))
    sims = q @ a.T
    assert sims.argmax(1).tolist() == [0, 1]
    assert sims[0, 0] > sims[0, 1:].max() + 0.1 and sims[1, 1] > sims[1, [0, 2]].max() + 0.1


def test_distilling_weighs_rare_tokens_above_common_ones_and_centres_the_table():
    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(1000, 8)).astype(np.float32) + 5.0  # a shared direction
    table = distill(tokens)
    norms = np.linalg.norm(table, axis=1)
    assert norms[900:].mean() > norms[:10].mean()  # later ids stand for rarer tokens
    assert abs(StaticVectors(table).table.mean(0)).max() < 0.5 * abs(tokens.mean(0)).max()


def test_static_passages_need_an_encoder_that_exposes_its_tokens(tmp_path):
    config = StoreConfig(passage_vectors="static")
    with pytest.raises(InvalidInputError, match="passage_vectors='static'"):
        EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(64, max_words=16), config=config)


def test_a_store_keeps_the_passage_vectors_it_was_written_with(tmp_path, minilm):
    static = StoreConfig(passage_vectors="static")
    with EngramMemory(tmp_path / "s.db", encoder=minilm, config=static) as memory:
        memory.remember(_long_answer(*FACTS[next(iter(FACTS))]), "u")
    with pytest.raises(InvalidInputError, match="passage_vectors='static'"):
        EngramMemory(tmp_path / "s.db", encoder=minilm)  # the default reads passages by model
    with EngramMemory(tmp_path / "m.db", encoder=minilm) as memory:
        memory.remember("a short turn", "u")
    with pytest.raises(InvalidInputError, match="passage_vectors='model'"):
        EngramMemory(tmp_path / "m.db", encoder=minilm, config=static)
    with EngramMemory(tmp_path / "m.db", encoder=minilm) as memory:  # nothing was changed
        assert [e.text for e in memory.list("u")] == ["a short turn"]
    with EngramMemory(tmp_path / "s.db", encoder=minilm, config=static) as memory:
        assert memory.recall("where is the spare key hidden?", "u", k=1)[0].passage is not None
