"""Short turns also read sentence by sentence (store.sentences): a fact said in one clause among
greetings reaches recall through its own sentence's static vector, derived from the text at
each load and write (nothing stored), off for encoders without tokens, under the dense floor."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.crypto import generate_key
from engram_agents.store.sentences import sentences_of
from engram_agents.store.static_vectors import static_vectors

BURIED = (
    "Maya: Hey, so good to hear from you! Work has been really hectic and the weather was awful "
    "all week. We went kayaking on the lake with my kids last Sunday. Anyway, how are things "
    "with you?"
)
NEAR_MISSES = [  # about her kids, closer to the question as whole turns, not what it asks
    "Maya: My kids start school again next week.",
    "Maya: The kids have a dentist appointment on Friday.",
    "Maya: I bought new winter shoes for my kids.",
]
CHAT = [
    "Sam: That sounds lovely, I am glad to hear it. My week was quiet and uneventful.",
    "Sam: I have been reading a lot of books lately. The last one was a thriller set in Oslo.",
    "Sam: My car broke down again on the highway. The mechanic says it needs a new gearbox.",
    "Maya: I started a new job at the bank in March. The team there is friendly and helpful.",
    "Sam: We finally painted the living room. It took the whole weekend but it looks great.",
    "Maya: My sister is visiting from Chicago next month. She wants to see the museums.",
]
QUESTION = "What outdoor activity did Maya do with her kids?"
HALF_ROUNDING = 2.0**-12 + 1e-6  # float16 rounds a value below 1 by at most half its 2 ** -11 step


def _memory(path, encoder, weight: float = 0.35, **kwargs) -> EngramMemory:
    memory = EngramMemory(
        path, encoder=encoder, config=StoreConfig(sentence_weight=weight), **kwargs
    )
    if not memory.recall("anything", "u"):
        memory.remember_many([*NEAR_MISSES, BURIED, *CHAT], "u")
    return memory


def _texts(memory: EngramMemory, query: str = QUESTION) -> list[str]:
    return [h.engram.text for h in memory.recall(query, "u", k=20)]


def test_sentences_of_drops_the_speaker_questions_and_one_sentence_turns():
    assert sentences_of(BURIED) == [
        "Hey, so good to hear from you!",
        "Work has been really hectic and the weather was awful all week.",
        "We went kayaking on the lake with my kids last Sunday.",
    ]
    assert sentences_of("Maya: My kids start school again next week.") == []
    assert sentences_of("Hi there! Oh, yes it was great.") == []  # one sentence of 3 words
    assert sentences_of("Where did you go last week? We went to see the lake house.") == [
        "We went to see the lake house."
    ]


def test_sentence_vectors_are_the_static_reading_of_each_sentence(tmp_path, minilm):
    with _memory(tmp_path / "m.db", minilm) as memory:
        index = memory.store._index("u")
        rows = index.sentences
        table = static_vectors(minilm)
        for engram_id, i in index.pos.items():
            text = memory.get(engram_id, "u").text
            wanted = sentences_of(text)
            got = rows.vectors[rows.first[i] : rows.first[i] + rows.count[i]]
            assert rows.count[i] == len(wanted)
            if wanted:
                expected = table.encode_ids([t.ids for t in minilm.tokenize(wanted)])
                assert got.dtype == np.float32  # a small scope's (float16 past HALF_FROM)
                np.testing.assert_allclose(got, expected, atol=HALF_ROUNDING, rtol=0)
        assert len(rows) == sum(len(sentences_of(t)) for t in [*NEAR_MISSES, BURIED, *CHAT])


def test_a_fact_buried_in_chit_chat_ranks_above_near_misses_only_with_sentences(tmp_path, minilm):
    with _memory(tmp_path / "on.db", minilm) as on, _memory(tmp_path / "off.db", minilm, 0) as off:
        lifted, plain = _texts(on), _texts(off)
        # second, behind only the dense top (the floor keeps dense's first in the top 2)
        assert lifted.index(BURIED) == 1 and lifted[0] == NEAR_MISSES[0]
        assert all(lifted.index(BURIED) < lifted.index(t) for t in NEAR_MISSES[1:])
        assert all(plain.index(BURIED) > plain.index(t) for t in NEAR_MISSES)
        hit = next(h for h in on.recall(QUESTION, "u", k=20) if h.engram.text == BURIED)
        assert hit.parts["sentence"] > 0 and "a sentence of it matched" in hit.explanation
        assert sum(hit.parts.values()) == pytest.approx(hit.score, abs=1e-4)
        assert all("sentence" not in h.parts for h in off.recall(QUESTION, "u", k=20))


def test_a_reopened_store_derives_the_same_sentences_and_ranking(tmp_path, minilm):
    with _memory(tmp_path / "m.db", minilm) as memory:
        written = _texts(memory)
        vectors = memory.store._index("u").sentences.vectors.copy()
    with _memory(tmp_path / "m.db", minilm) as again:
        assert _texts(again) == written
        rows = again.store._index("u").sentences
        assert rows.vectors.dtype == vectors.dtype == np.float32
        assert np.array_equal(rows.vectors[: len(rows)], vectors[: len(rows)])  # write == load


def test_deleting_an_engram_leaves_no_sentence_vectors(tmp_path, minilm):
    with _memory(tmp_path / "m.db", minilm) as memory:
        index = memory.store._index("u")
        buried = next(e for e in memory.list("u") if e.text == BURIED)
        i = index.pos[buried.id]
        start, count = index.sentences.first[i], index.sentences.count[i]
        assert count == 3
        memory.delete(buried.id, "u")
        index = memory.store._index("u")
        assert index.sentences.count[i] == 0
        assert not index.sentences.vectors[start : start + count].any()
        assert len(index.sentences) == sum(len(sentences_of(t)) for t in CHAT)


def test_an_edited_engram_is_read_by_its_new_sentences(tmp_path, minilm):
    with _memory(tmp_path / "m.db", minilm) as memory:
        buried = next(e for e in memory.list("u") if e.text == BURIED)
        memory.update(buried.id, "u", text="Maya: We went kayaking. It was great fun!")
        index = memory.store._index("u")
        rows, i = index.sentences, index.pos[buried.id]
        got = rows.vectors[rows.first[i] : rows.first[i] + rows.count[i]]
        table = static_vectors(minilm)
        wanted = ["We went kayaking.", "It was great fun!"]
        expected = table.encode_ids([t.ids for t in minilm.tokenize(wanted)])
        np.testing.assert_allclose(got, expected, atol=HALF_ROUNDING, rtol=0)
        assert len(rows) == 2 + sum(len(sentences_of(t)) for t in CHAT)


def test_off_for_an_encoder_without_tokens(tmp_path, hashing):
    with (
        _memory(tmp_path / "on.db", hashing) as on,
        _memory(tmp_path / "off.db", hashing, 0) as off,
    ):
        assert on.store._sentences is None and len(on.store._index("u").sentences) == 0
        for query in (QUESTION, "what did Sam read?", "museums in Chicago"):
            assert _texts(on, query) == _texts(off, query)


def test_an_encrypted_store_reads_its_sentences(tmp_path, minilm):
    key = generate_key()
    with _memory(tmp_path / "plain.db", minilm) as plain:
        expected = _texts(plain)
    with _memory(tmp_path / "sealed.db", minilm, encryption_key=key) as sealed:
        assert _texts(sealed) == expected
    with _memory(tmp_path / "sealed.db", minilm, encryption_key=key) as reopened:
        assert _texts(reopened) == expected and len(reopened.store._index("u").sentences) > 0


def test_the_dense_floor_holds_with_sentences(tmp_path, minilm):
    """Every prefix of n results holds the floor(n / 2) turns whose own vectors are closest."""
    with _memory(tmp_path / "m.db", minilm) as memory:
        index = memory.store._index("u")
        for query in (QUESTION, "What did Sam's mechanic say?", "Who is visiting Maya?"):
            qvec = minilm.encode([query])[0]
            own = {engram_id: float(index.vectors[i] @ qvec) for engram_id, i in index.pos.items()}
            dense = sorted(own, key=lambda e: -own[e])
            got = [h.engram.id for h in memory.recall(query, "u", k=len(own))]
            for n in range(1, len(got) + 1):
                assert set(dense[: math.floor(0.5 * n)]) <= set(got[:n])


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_a_bad_sentence_weight_is_refused(weight):
    with pytest.raises(ValidationError, match="sentence_weight"):
        StoreConfig(sentence_weight=weight)
