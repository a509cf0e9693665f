"""An index load reads every row's sentences at once (store.word_ids, StaticVectors.encode_flat,
SentenceRows.read): the ids and vectors must be exactly those of reading each text alone with
the tokenizer's own call, whatever the text holds."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from engram_agents.store.sentences import SentenceRows, sentences_of
from engram_agents.store.static_vectors import static_vectors
from engram_agents.store.word_ids import WordIds, reads_words_alone

LOCOMO = Path(__file__).parents[2] / "benchmarks" / "data" / "locomo_dev_a.json"
# words that test the per-word reading: punctuation glued to words, accents and combining
# marks, CJK (BERT spaces each character), emoji, added tokens written in the text, a word over
# WordPiece's 100 characters, and every kind of whitespace and control Python or BERT treats
# differently
POOL = [
    "kayaking", "we", "went", "Sunday.", "don't", "U.S.A.", "(really?)", "e-mail", "#42",
    "café", "naïve", "e\u0301", "\u0301", "Straße", "ΣΊΣΥΦΟΣ", "東京に行った", "😀👍", "[SEP]",
    "[MASK]x", "x[UNK]", "[SE", "P]", "a" * 120, "\u200b", "\u200d", "\ufffd", "\x00",
]  # fmt: skip
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\xa0", "\u2028", "\u3000", "\x0b", "\x0c", "\x1c", "\x85"]


def _random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        words = rng.choices(POOL, k=rng.randint(0, 12))
        text = "".join(w + rng.choice(SPACES[:7] if rng.random() < 0.8 else SPACES) for w in words)
        texts.append(text if rng.random() < 0.9 else text.strip())
    return texts


def _locomo_sentences() -> list[str]:
    convs = json.loads(LOCOMO.read_text())
    texts = [
        t["text"]
        for conv in convs
        for key, session in conv["conversation"].items()
        if key.startswith("session_") and isinstance(session, list)
        for t in session
    ]
    return [s for t in texts for s in sentences_of(t)]


def _each_alone(minilm, texts: list[str]) -> list[np.ndarray]:
    return [t.ids for t in minilm.tokenize(texts)]


def test_the_embedded_tokenizer_reads_words_alone_and_a_word_level_one_does_not(minilm):
    assert reads_words_alone(minilm._backend)
    plain = Tokenizer(WordLevel({"[UNK]": 0, "we": 1, "went": 2}, unk_token="[UNK]"))
    plain.pre_tokenizer = Whitespace()
    assert not reads_words_alone(plain)


@pytest.mark.parametrize("seed", range(3))
def test_ids_by_word_are_the_tokenizers_own(minilm, seed):
    texts = [*_random_texts(400, seed), "", "   ", "one", "a\x0bb c", "a\x1fb"]
    ids, bounds = minilm.token_ids(texts)
    assert len(bounds) == len(texts) + 1 and bounds[-1] == len(ids)
    assert [a.tolist() for a in minilm.token_ids([])] == [[], [0]]
    for i, alone in enumerate(_each_alone(minilm, texts)):
        assert ids[bounds[i] : bounds[i + 1]].tolist() == alone.tolist(), repr(texts[i])


def test_ids_by_word_of_real_sentences_are_the_tokenizers_own(minilm):
    sentences = _locomo_sentences()
    ids, bounds = minilm.token_ids(sentences)
    alone = _each_alone(minilm, sentences)
    assert ids.tolist() == np.concatenate(alone).tolist()
    assert np.diff(bounds).tolist() == [len(a) for a in alone]


def test_a_tokenizer_that_does_not_read_words_alone_reads_whole_texts():
    vocab = {"[UNK]": 0, "we": 1, "went": 2, "home": 3, ".": 4}
    plain = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    plain.pre_tokenizer = Whitespace()
    texts = ["we went home.", "home", "", "we we"]
    ids, bounds = WordIds(plain, threading.Lock())(texts)
    assert ids.tolist() == [1, 2, 3, 4, 3, 1, 1] and bounds.tolist() == [0, 4, 5, 5, 7]


def test_flat_vectors_are_the_per_sequence_ones_to_the_bit(minilm):
    table = static_vectors(minilm)
    rng = np.random.default_rng(0)
    pieces = [
        *_each_alone(minilm, _locomo_sentences()),
        *(rng.integers(0, len(table.table), rng.integers(0, 40)) for _ in range(9000)),
        np.zeros(0, dtype=np.int64),
    ]  # more than one chunk of sequences
    bounds = np.cumsum([0, *map(len, pieces)])
    got = table.encode_flat(np.concatenate(pieces), bounds)
    assert got.dtype == np.float32 and np.array_equal(got, table.encode_ids(pieces))
    read = np.diff(bounds) > 0
    assert not got[~read].any() and np.allclose(np.linalg.norm(got[read], axis=1), 1, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])  # a small scope's, a large one's
def test_reading_all_rows_at_once_gives_each_rows_sentences(minilm, dtype):
    table = static_vectors(minilm)
    texts = [
        "Maya: Hey! We went kayaking on the lake. It was great fun.",
        "Sam: Short one.",
        *_random_texts(50, 7),
        "Where did you go? We went to the lake house with the kids.",
    ]
    rows = SentenceRows(table.dim, dtype=dtype)
    positions = 3 + 2 * np.arange(len(texts))
    rows.read(minilm, table, positions, texts)
    for position, text in zip(positions, texts, strict=True):
        wanted = sentences_of(text)
        assert rows.count[position] == len(wanted)
        got = rows.vectors[rows.first[position] : rows.first[position] + rows.count[position]]
        if wanted:
            expected = table.encode_ids(_each_alone(minilm, wanted))  # rounded once, if float16
            assert got.dtype == dtype and np.array_equal(got, expected.astype(dtype))
    assert len(rows) == sum(len(sentences_of(t)) for t in texts) > 3
