"""Token ids of many short texts at once (the sentences an index load reads: store.sentences).
A fast tokenizer spends its time per text and per token (normalizing with offsets, building an
encoding for each text), yet a store's texts repeat the same few thousand words. Where the
tokenizer reads each whitespace-separated word on its own (BERT's normalizer and
pre-tokenizer with WordPiece: the embedded MiniLM), a text's ids are its words' ids end to end,
so each distinct word is tokenized once per call, and the texts' ids are gathered from those.
Other tokenizers, and texts with a character Python splits on but BERT deletes (controls such
as \\x0b, \\x1c: "a\\x0bb" is one word to BERT), are tokenized whole: the ids are the same as
the tokenizer's batch call gives, either way."""

from __future__ import annotations

import json
import re
import threading
from itertools import chain
from typing import Any

import numpy as np

from engram_agents.store.arrays import flattened

# Python's whitespace that BERT's normalizer deletes instead of splitting on.
_GLUED = re.compile(r"[\x0b\x0c\x1c-\x1f\x85]")
_WORDS = 4096  # distinct words per encoding


def reads_words_alone(backend: Any) -> bool:
    """Whether a `tokenizers.Tokenizer` gives a text the ids of its whitespace-separated words
    end to end: BERT's per-character normalizer, a pre-tokenizer that splits on whitespace and
    punctuation, WordPiece, and no added token that holds whitespace."""
    config = json.loads(backend.to_str())
    parts = (config.get("normalizer") or {}, config.get("pre_tokenizer") or {}, config["model"])
    kinds = [part.get("type") for part in parts]
    spaced = any(re.search(r"\s", t["content"]) for t in config.get("added_tokens", []))
    return kinds == ["BertNormalizer", "BertPreTokenizer", "WordPiece"] and not spaced


class WordIds:
    """Token ids of texts without special tokens or truncation, tokenized by distinct piece: a
    word where the tokenizer reads words alone (`reads_words_alone`), else the whole text."""

    def __init__(self, backend: Any, lock: threading.Lock) -> None:
        self.backend = backend
        self.lock = lock  # the tokenizer's: one call at a time
        self.by_word = reads_words_alone(backend)

    def _pieces(self, text: str) -> list[str]:
        return text.split() if self.by_word and not _GLUED.search(text) else [text]

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All texts' ids end to end, and where each text's begin: text i's are
        ids[bounds[i] : bounds[i + 1]]."""
        pieces, per_text = flattened(map(self._pieces, texts))
        distinct: dict[str, int] = {}
        used = np.fromiter((distinct.setdefault(p, len(distinct)) for p in pieces), np.int64)
        known, length = self._read(list(distinct))
        # each used piece's ids, gathered from the distinct pieces' end to end
        lengths = length[used]
        ends = np.cumsum(lengths)
        start = np.cumsum(length) - length
        ids = known[np.repeat(start[used] - (ends - lengths), lengths) + np.arange(lengths.sum())]
        bounds = np.zeros(len(texts) + 1, dtype=np.int64)
        bounds[1:] = np.concatenate([[0], ends])[np.cumsum(per_text)]
        return ids, bounds

    def _read(self, pieces: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The pieces' ids end to end, and how many each has. Words go in as chunks of
        pre-split words, each read alone, as BERT reads them: one encoding per chunk instead of
        one per word (a third less of the tokenizer's CPU where most words are new)."""
        if not pieces:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        with self.lock:
            if not self.by_word:
                read = self.backend.encode_batch_fast(pieces, add_special_tokens=False)
                length = np.fromiter((len(e.ids) for e in read), np.int64, len(read))
                return np.fromiter(chain.from_iterable(e.ids for e in read), np.int64), length
            chunks = [pieces[i : i + _WORDS] for i in range(0, len(pieces), _WORDS)]
            read = self.backend.encode_batch(chunks, is_pretokenized=True, add_special_tokens=False)
        known = np.concatenate([np.asarray(e.ids, dtype=np.int64) for e in read])
        owner = np.concatenate(
            [np.asarray(e.word_ids, dtype=np.int64) + n * _WORDS for n, e in enumerate(read)]
        )
        return known, np.bincount(owner, minlength=len(pieces))
