"""Short turns also read sentence by sentence. A turn's vector averages everything said in it, so
a fact that is one clause among greetings and reactions ("Hey! I had a quiet weekend after we
went camping with my fam.") is far from a question about it; each of its sentences read alone
is not. Recall lifts a turn whose best sentence is closer to the query than the turn itself.

Sentences that ask are skipped, for the reason the `statement` signal exists: a past question
resembles a new one more than the fact that answers it. Sentences are read with the encoder's
static token vectors (store.static_vectors: a table lookup, no transformer pass), so they are
derived, not stored: the index computes them from the text when it loads or writes a row, and
they leave with the row. Long turns have passages instead (store.passages) and are skipped.
Measured on dialogue and on user-assistant chats: benchmarks/RESULTS.md."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from engram_agents.store.arrays import flattened
from engram_agents.store.ragged import HALF_FROM, RaggedRows
from engram_agents.store.records import _SPEAKER_PREFIX
from engram_agents.store.static_vectors import StaticVectors, static_vectors

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_MIN_WORDS = 3  # shorter pieces ("Wow!", "Thanks a lot.") say nothing of their own
_DECODER = json.JSONDecoder()
_TOKEN_READER = ("model_file", "vocabulary_size", "tokenize", "token_ids", "encode_ids")


def sentences_of(text: str) -> list[str]:
    """The sentences a turn is also read by: of a text (its "Name: " prefix dropped) with at
    least two sentences of three words, those that do not ask; none for a one-sentence turn,
    whose own vector already reads it alone."""
    prefix = _SPEAKER_PREFIX.match(text)
    body = text[prefix.end() :] if prefix else text
    parts = [
        p for p in _SENTENCE_END.split(body) if len(p.split(None, _MIN_WORDS - 1)) == _MIN_WORDS
    ]
    if len(parts) < 2:
        return []
    return [p for p in parts if not p.rstrip().endswith("?")]


def sentence_table(encoder: Any, weight: float) -> StaticVectors | None:
    """The static table sentences are read with; None (sentence reading off) for weight 0 or an
    encoder that does not expose its tokens (LangChain/LlamaIndex embeddings, hashing)."""
    if weight <= 0 or not all(hasattr(encoder, name) for name in _TOKEN_READER):
        return None
    return static_vectors(encoder)


def static_query(encoder: Any, table: StaticVectors, query: str) -> np.ndarray:
    """The query's static vector, in the sentences' space."""
    return table.encode_ids([encoder.tokenize([query])[0].ids])[0]


class SentenceRows(RaggedRows):
    """Per index position, the static vectors of its turn's sentences; past `HALF_FROM` rows
    in float16: they are derived (read again at each load), the lift they give moves by ~1e-4
    at most, and at 100k turns float32 would take ~175 MB (benchmarks/half_vectors.py)."""

    def __init__(self, dim: int, dtype: type = np.float32, half_from: int | None = HALF_FROM):
        super().__init__(dim, dtype=dtype, half_from=half_from)

    def read(
        self, encoder: Any, table: StaticVectors, positions: np.ndarray, texts: list[str]
    ) -> None:
        """Read the sentences of `texts` into `positions`, all at once (a load reads every
        row: one tokenizer call, one product, no Python step per sentence)."""
        flat, counts = flattened(map(sentences_of, texts))
        if flat:
            added = self.append(positions, counts)
            table.encode_flat(*encoder.token_ids(flat), out=self.vectors[added])

    def lift(
        self, rows: np.ndarray, own: np.ndarray, query: np.ndarray, weight: float
    ) -> np.ndarray:
        """Per candidate, `weight` times how far its best sentence rises above its own cosine
        `own`. The sentences' static cosines (`query` is the query's static vector) are first
        mapped onto the candidates' own cosines by matching mean and spread, so the lift is in
        the units of the similarity it is added to, calibrated per query, not by a constant."""
        out = np.zeros(rows.size, dtype=np.float32)
        has, _, starts, gather = self.runs(rows)
        if not has.size:
            return out
        scores = self.scores(gather, query)
        if scores.size < 2:
            return out
        mapped = own.mean() + own.std() * (scores - scores.mean()) / (scores.std() + 1e-9)
        best = np.maximum.reduceat(mapped, starts)
        out[has] = weight * np.maximum(best - own[has], 0)
        return out


def payload_text(plain: bytes) -> str:
    """An engram's text from its stored JSON: cheaper than validating the whole record, and
    than `json.loads`, whose checks (the encoding, nothing after the object) JSON the codec
    wrote does not need; a load reads every row's."""
    return _DECODER.raw_decode(plain.decode("utf-8", "surrogatepass"))[0]["text"]
