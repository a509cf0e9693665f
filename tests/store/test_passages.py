"""Long turns as passages: a fact deep inside a long answer reaches recall although the
encoder's window truncates the turn; passages persist, round-trip, leave with their engram, and
short turns are read exactly as before."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.encoders import HashingEncoder
from engram_agents.store.errors import InvalidInputError
from engram_agents.store.passages import Passages, encode_turns, plan_pieces, plan_spans

FACT = "The spare key is hidden under the blue flowerpot next to the shed"
QUERY = "where is the spare key hidden, under the flowerpot?"
WORDS = "router cable switch patch panel firmware subnet gateway uplink rack fan".split()


def _long_answer(chars: int = 5000) -> str:
    """A ~5,000-character assistant answer (numbered steps) with FACT in its middle."""
    steps = [
        f"{n}. Check the {WORDS[n % 11]} and the {WORDS[(n * 3) % 11]} before the "
        f"{WORDS[(n * 7) % 11]}, then note the {WORDS[(n * 5) % 11]} setting."
        for n in range(1, 200)
    ]
    half = len(steps) // 2
    text = "\n".join([*steps[:half], FACT, *steps[half:]])
    middle = text.index(FACT)
    start = max(0, middle - chars // 2)
    return "Here is the full checklist:\n" + text[start : start + chars]


def _short_turns() -> list[str]:
    return [
        f"note {n}: the spare {WORDS[n % 11]} is hidden in the {WORDS[(n + 4) % 11]} box"
        for n in range(40)
    ]


def _store(path: Path, passage_tokens: int, **config) -> EngramMemory:
    """A truncating encoder (64 words, like MiniLM's 256 tokens) and no tag signal or dense
    floor, so what recall finds is what the turn's vectors say."""
    weights = FusionWeights(tags=0)
    cfg = StoreConfig(passage_tokens=passage_tokens, dense_floor=0, weights=weights, **config)
    return EngramMemory(path, encoder=HashingEncoder(256, max_words=64), config=cfg)


def test_plan_spans_tiles_the_turn_from_the_window_on_in_capped_passages():
    text = "\n".join(f"line {n} has five words" for n in range(100))
    tokens = HashingEncoder(max_words=64).token_spans([text])[0]
    spans = plan_spans(text, tokens, window=64, cap=32)
    assert spans[0] == (0, int(tokens[63][1]))  # what the turn's own vector reads
    assert spans[-1][1] == len(text)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start <= end or not text[end:start].strip()  # no word is skipped
    for start, end in spans[1:]:
        assert text[start:].startswith("line")  # each begins at a line
        assert len(text[start:end].split()) <= 32
    assert plan_spans("a short turn", tokens[:3], window=64, cap=32) == []


def test_a_fact_in_the_middle_of_a_long_answer_is_found_though_the_window_misses_it(tmp_path):
    answer = _long_answer()
    assert len(answer) >= 4500 and FACT in answer[1500:-1500]
    found = {}
    for tokens in (0, 128):
        memory = _store(tmp_path / f"m{tokens}.db", tokens)
        long = memory.remember(answer, "u")
        memory.remember_many(_short_turns(), "u")
        hits = memory.recall(QUERY, "u", k=5)
        found[tokens] = next((h for h in hits if h.engram.id == long.id), None)
    assert found[0] is None  # truncation alone: the fact never reached the turn's vector
    hit = found[128]
    assert hit is not None and hit.engram.text == answer  # the whole turn comes back
    assert (
        FACT in hit.passage.text and hit.passage.text == answer[hit.passage.start : hit.passage.end]
    )
    assert len(hit.passage.text) < len(answer) / 3
    assert f"best passage: characters {hit.passage.start}-{hit.passage.end}" in hit.explanation


@pytest.mark.parametrize("make_memory", ["sqlite", "chroma-local"], indirect=True)
def test_passages_persist_and_survive_writes_that_keep_the_text(make_memory):
    config = StoreConfig(passage_tokens=128, dense_floor=0, weights=FusionWeights(tags=0))
    encoder = HashingEncoder(256, max_words=64)
    memory = make_memory(encoder=encoder, config=config)
    long = memory.remember(_long_answer(), "u")
    memory.remember_many(_short_turns(), "u")
    before = memory.store._index("u").passages_of(long.id)
    assert len(before) >= 5
    memory.feedback(long.id, "u", useful=True)  # rewrites the row, not the text
    memory.consolidate("u")
    reopened = make_memory(encoder=encoder, config=config)
    after = reopened.store._index("u").passages_of(long.id)
    assert np.array_equal(after.spans, before.spans)
    assert np.allclose(after.vectors, before.vectors)
    hit = next(h for h in reopened.recall(QUERY, "u", k=5) if h.engram.id == long.id)
    assert FACT in hit.passage.text
    reopened.update(long.id, "u", text="The key is with the neighbour now.")
    assert len(reopened.store._index("u").passages_of(long.id)) == 0
    again = make_memory(encoder=encoder, config=config)
    assert all(h.passage is None for h in again.recall(QUERY, "u", k=5))


def _passage_bytes(path: Path) -> bytes:
    import sqlite3

    with sqlite3.connect(path) as db:
        return db.execute("SELECT vectors FROM passages").fetchone()[0]


@pytest.mark.parametrize("how", ["delete", "forget"])
def test_deleting_a_long_turn_leaves_no_passage_byte_on_disk(tmp_path, how):
    memory = _store(tmp_path / "m.db", 128)
    long = memory.remember(_long_answer(), "u", session_id="s1")
    memory.remember_many(_short_turns(), "u", session_id="s2")
    stored = _passage_bytes(tmp_path / "m.db")
    needle = stored[-1536:]  # the last passages' vectors, as written
    memory.store.backend.checkpoint()
    assert needle in (tmp_path / "m.db").read_bytes()  # the check can fail
    if how == "delete":
        memory.delete(long.id, "u")
    else:
        memory.forget("u", session_id="s1")
    memory.close()
    for file in tmp_path.iterdir():
        assert needle not in file.read_bytes(), file.name


def test_an_encrypted_store_keeps_passages_as_it_keeps_vectors(tmp_path):
    from engram_agents.store.crypto import generate_key

    key = generate_key()
    config = StoreConfig(passage_tokens=128, dense_floor=0, weights=FusionWeights(tags=0))
    encoder = HashingEncoder(256, max_words=64)
    with EngramMemory(tmp_path / "m.db", encoder=encoder, config=config, encryption_key=key) as m:
        long = m.remember(_long_answer(), "u")
        m.remember_many(_short_turns(), "u")
        m.store.backend.checkpoint()
    for file in tmp_path.iterdir():
        assert b"flowerpot" not in file.read_bytes()  # spans and vectors only, no text
    with EngramMemory(tmp_path / "m.db", encoder=encoder, config=config, encryption_key=key) as m:
        hit = next(h for h in m.recall(QUERY, "u", k=5) if h.engram.id == long.id)
    assert FACT in hit.passage.text


def test_short_turns_get_the_vectors_and_ranking_they_had_without_passages(tmp_path, minilm):
    texts = [*_short_turns(), _long_answer()]
    plain, _ = encode_turns(minilm, texts, 0)
    chunked, passages = encode_turns(minilm, texts, 128)
    assert np.array_equal(plain, chunked)  # passages are encoded in a call of their own
    assert [len(p) for p in passages[:-1]] == [0] * 40 and len(passages[-1]) >= 5
    ranked = {}
    for tokens in (0, 128):
        config = StoreConfig(passage_tokens=tokens)
        with EngramMemory(tmp_path / f"m{tokens}.db", encoder=minilm, config=config) as m:
            m.remember_many(_short_turns(), "u")
            ranked[tokens] = [
                (h.engram.text, round(h.score, 6))
                for h in m.recall("where is the spare cable hidden?", "u", k=10)
            ]
    assert ranked[0] == ranked[128]


def test_add_passages_reads_the_long_turns_of_an_older_store_again(tmp_path, monkeypatch):
    from engram_agents.store import migrate
    from engram_agents.store.migrate import add_passages

    with _store(tmp_path / "m.db", 0) as memory:  # as a store made before passages
        long = memory.remember(_long_answer(), "u")
        memory.remember_many(_short_turns(), "u")
        assert all(h.engram.id != long.id for h in memory.recall(QUERY, "u", k=5))
    opened = []

    class Counted(migrate.SQLiteBackend):
        def __init__(self, *args, **kwargs) -> None:
            opened.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(migrate, "SQLiteBackend", Counted)
    assert add_passages(tmp_path / "m.db", HashingEncoder(256, max_words=64)) == 1
    assert len(opened) == 1  # the store is opened once: its check and its rewrite share it
    assert add_passages(tmp_path / "m.db", HashingEncoder(256, max_words=64)) == 0
    with _store(tmp_path / "m.db", 128) as memory:
        hit = next(h for h in memory.recall(QUERY, "u", k=5) if h.engram.id == long.id)
        assert FACT in hit.passage.text
        assert memory.verify_audit()


def test_the_dense_floor_keeps_the_order_of_the_turns_own_vectors(tmp_path):
    """Passages raise the fused similarity; the floor still holds plain dense retrieval's
    order, so the store is never below dense retrieval with the same encoder (with share 1 the
    results are that order)."""
    encoder = HashingEncoder(256, max_words=64)
    config = StoreConfig(passage_tokens=128, dense_floor=1.0)
    texts = [_long_answer(), _long_answer(3000), *_short_turns()]
    vectors = encoder.encode(texts)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = encoder.encode([QUERY])[0]
    query /= np.linalg.norm(query)
    with EngramMemory(tmp_path / "m.db", encoder=encoder, config=config) as memory:
        ids = [e.id for e in memory.remember_many(texts, "u")]
        hits = [h.engram.id for h in memory.recall(QUERY, "u", k=10)]
        index = memory.store._index("u")
        rows = np.asarray([index.pos[i] for i in ids])
        # "max": the two answers share the fact's passage, which "shared" would halve
        raised, _ = index.with_passages(query, rows, (vectors @ query).astype(np.float32), "max")
    own = dict(zip(ids, vectors @ query, strict=True))
    best = sorted(own.values(), reverse=True)[:10]
    assert own[ids[0]] < best[-1] < raised[0]  # by its passages the long answer is in the top 10
    assert np.allclose([own[i] for i in hits], best, atol=1e-5)  # share 1: the dense order
    assert ids[0] not in hits


def test_boilerplate_many_long_turns_repeat_lifts_each_by_a_share():
    # six candidates: 0-2 short; 3-5 long, 3 and 4 with the same best passage (boilerplate)
    own = np.array([0.1, 0.2, 0.45, 0.2, 0.2, 0.25], dtype=np.float32)
    has = np.array([3, 4, 5])
    best = np.array([0.6, 0.6, 0.6], dtype=np.float32)
    copy, other = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]
    vectors = np.stack([copy, copy, other])
    raw = Passages.turn_similarity(own, has, best, vectors, "max")
    shared = Passages.turn_similarity(own, has, best, vectors, "shared")
    assert raw == pytest.approx([0.6, 0.6, 0.6])
    base = float(np.median(own))  # 0.2: this query's typical similarity
    assert shared == pytest.approx([base + 0.4 / 2, base + 0.4 / 2, 0.6])  # two copies: halves
    assert shared[0] < own[2] < shared[2]  # the copies fall below the short turn, the one-off not
    # a turn at or below the median keeps its score
    low = Passages.turn_similarity(own, has, np.array([0.2, 0.1, 0.15]), vectors, "shared")
    assert low == pytest.approx([0.2, 0.2, 0.25])


def test_a_short_fact_is_found_among_long_answers_padded_with_the_same_advice(tmp_path):
    advice = (
        "A general point: ask your advisor what they suggest for the analysis, and write down "
        "what your advisor suggested, so the advice is not lost."
    )
    topics = "garden kitchen garage bicycle laptop printer balcony aquarium".split()
    answers = [  # eight different answers that end with the same advice
        f"Here is how to tidy the {topic}. "
        + " ".join(f"{topic} step {i}: sort {WORDS[(n + i) % 11]} {i}." for i in range(12))
        + "\n"
        + advice
        for n, topic in enumerate(topics)
    ]
    fact = "Dr Okafor, my advisor, suggested I do the analysis in Python"
    query = "what did my advisor suggest for the analysis?"
    found = {}
    for mode in ("max", "shared"):
        memory = _store(tmp_path / f"{mode}.db", 32, passage_score=mode)
        said = [("assistant", a) for a in answers] + [("user", fact)]
        memory.remember_many([{"text": t, "metadata": {"role": r}} for r, t in said], "u")
        assert len(memory.list("u")) == 9  # nothing deduplicated or superseded
        found[mode] = [h.engram.text for h in memory.recall(query, "u", k=3)]
    assert fact not in found["max"]  # eight copies of the advice crowd it out
    assert found["shared"][0] == fact  # shared eight ways, the advice ranks below it


def test_one_tokenization_gives_the_vectors_and_spans_of_reading_the_texts_again(minilm):
    """The turn's vector, its passage plan and its passages all come from one tokenization: the
    same vectors as encoding each text (or passage text) alone, the same spans as planning from
    `token_spans`."""
    texts = [_long_answer(), _long_answer(3000), _short_turns()[0]]
    _, passages = encode_turns(minilm, texts, 128)
    for text, found, offsets in zip(texts, passages, minilm.token_spans(texts), strict=True):
        assert found.spans.tolist() == [
            list(s) for s in plan_spans(text, offsets, minilm.max_tokens, 128)
        ]
    (long,) = encode_turns(minilm, [texts[0]], 128)[1]
    assert len(long) >= 5
    tokens = minilm.tokenize([texts[0]])[0]
    assert np.array_equal(tokens.offsets, minilm.token_spans([texts[0]])[0])
    # the turn's vector: exactly what encoding its text gives
    assert np.allclose(long.vectors[0], minilm.encode([texts[0]])[0], atol=1e-6)
    # its passages: exactly the encoder's read of their ids (one call, as encode_turns makes)
    pieces = plan_pieces(texts[0], tokens.offsets, minilm.max_tokens, 128)
    by_ids = minilm.encode_ids([tokens.ids[a:b] for a, b in pieces[1:]])
    assert np.allclose(by_ids, long.vectors[1:], atol=1e-6)
    # and near reading their text again (a passage starting mid-word differs by a word piece)
    again = minilm.encode([texts[0][s:e] for s, e in long.spans[1:]])
    again /= np.linalg.norm(again, axis=1, keepdims=True)
    assert (np.sum(by_ids * again, axis=1) > 0.97).all()


def test_a_shorter_read_of_long_turns_reads_their_first_tokens_and_passages_the_rest(minilm):
    text = _long_answer()
    tokens = minilm.tokenize([text])[0]
    vectors, passages = encode_turns(minilm, [text], 128, long_turn_tokens=64)
    assert np.allclose(vectors[0], minilm.encode_ids([tokens.ids[:64]])[0], atol=1e-6)
    short, none = encode_turns(minilm, ["a short turn"], 128, long_turn_tokens=64)
    assert np.allclose(short[0], minilm.encode(["a short turn"])[0], atol=1e-6)
    spans = passages[0].spans
    assert spans[0].tolist() == [0, int(tokens.offsets[63][1])]
    assert spans[-1][1] == tokens.offsets[-1][1]  # the passages reach the turn's end
    assert len(none[0]) == 0


def test_add_passages_refuses_a_store_whose_passages_are_static(tmp_path, minilm):
    from engram_agents.store.migrate import add_passages

    static = StoreConfig(passage_vectors="static")
    with EngramMemory(tmp_path / "s.db", encoder=minilm, config=static) as memory:
        memory.remember(_long_answer(), "u")
        before = memory.recall(QUERY, "u", k=1)[0].passage
    with pytest.raises(InvalidInputError, match="passage_vectors='static'"):
        add_passages(tmp_path / "s.db", minilm)
    with EngramMemory(tmp_path / "s.db", encoder=minilm, config=static) as memory:
        assert memory.recall(QUERY, "u", k=1)[0].passage == before  # nothing was changed
