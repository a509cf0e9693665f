"""Static token vectors distilled from the encoder itself (model2vec's recipe): every vocabulary
token is read through the model once, alone, and its vector kept; a text's static vector is
the weighted mean of its tokens' vectors. Reading a passage then costs a table lookup instead
of a transformer pass (MiniLM spends ~150 microseconds of CPU per token), which is what makes
long turns cheap to ingest when their passages use it (`StoreConfig.passage_vectors`).

Tokens are weighted by rarity (smooth inverse frequency, with the vocabulary's order standing
in for frequency rank, as model2vec does) and the table is centred on its weighted mean, so
that the direction every token shares does not dominate each cosine. Built once per machine
into the user cache, keyed by the model file's hash; nothing is downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engram_agents.cache import building, cache_dir, file_hash
from engram_agents.store.errors import InvalidInputError
from engram_agents.store.onnx_graph import UNFUSED

# Smooth inverse frequency: weight = a / (a + p(token)), model2vec's default coefficient.
SIF_COEFFICIENT = 1e-4
# Tables read in this process, by file: every store of one encoder shares one (~47 MB for MiniLM).
_LOADED: dict[Path, StaticVectors] = {}
_CHUNK = 4096  # sequences read at once: 100k sentences' temporaries together would take GBs


class StaticVectors:
    """A (vocabulary, dim) table of token vectors and the mean that turns ids into a vector."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table
        self.dim = table.shape[1]

    def encode_ids(self, pieces: list[np.ndarray]) -> np.ndarray:
        """Each token-id sequence's L2-normalized weighted mean (zeros for an empty one): a few
        sequences (a query, a turn's passages); many at once take `encode_flat`."""
        out = np.zeros((len(pieces), self.dim), dtype=np.float32)
        for row, ids in enumerate(pieces):
            if len(ids):
                out[row] = self.table[ids].sum(0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def encode_flat(
        self, ids: np.ndarray, bounds: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """`encode_ids` of sequences given end to end (sequence i: ids[bounds[i] : bounds[i +
        1]]), written into `out` (or a new array): a sparse product a chunk of sequences at a
        time, whose rows add their tokens' vectors in order, as summing each sequence's alone
        does, so the vectors are the same, without a Python step per sequence."""
        from scipy.sparse import csr_matrix

        n = len(bounds) - 1
        out = np.empty((n, self.dim), dtype=np.float32) if out is None else out
        ones = np.ones(len(ids), dtype=np.float32)
        for start in range(0, n, _CHUNK):  # a chunk's temporaries are reused, not faulted in
            end = min(start + _CHUNK, n)
            first, last = bounds[start], bounds[end]
            picks = csr_matrix(
                (ones[first:last], ids[first:last], bounds[start : end + 1] - first),
                shape=(end - start, len(self.table)),
            )
            part = np.asarray(picks @ self.table, dtype=np.float32)
            out[start:end] = part / np.maximum(np.linalg.norm(part, axis=1, keepdims=True), 1e-12)
        return out


def distill(token_vectors: np.ndarray) -> np.ndarray:
    """The static table from each vocabulary id's vector as the model gives it alone:
    rarity-weighted, centred on the weighted mean."""
    vocab = len(token_vectors)
    inverse_rank = 1.0 / np.arange(2, vocab + 2, dtype=np.float64)
    weights = SIF_COEFFICIENT / (SIF_COEFFICIENT + inverse_rank / inverse_rank.sum())
    vectors = token_vectors.astype(np.float64)
    vectors -= np.average(vectors, axis=0, weights=weights)
    return (vectors * weights[:, None]).astype(np.float32)


def static_vectors(encoder: Any) -> StaticVectors:
    """The static table of an encoder with `model_file`, `vocabulary_size`, `tokenize` and
    `encode_ids` (OnnxInt8Encoder), built once (seconds of CPU) into the user cache."""
    needs = ("model_file", "vocabulary_size", "tokenize", "encode_ids")
    if not all(hasattr(encoder, name) for name in needs):
        raise InvalidInputError(
            f"passage_vectors='static' needs an encoder that exposes its tokens "
            f"(the embedded MiniLM); {encoder.name} does not: use passage_vectors='model'"
        )
    # the session's numerics too: a table distilled under other fusions would differ slightly
    unfused = "-".join(UNFUSED).lower()
    target = cache_dir() / "encoders" / f"static-{file_hash(encoder.model_file)}-{unfused}"
    table_file = target / "tokens.npy"
    if not table_file.exists():
        ids = np.arange(encoder.vocabulary_size, dtype=np.int64)
        token_vectors = encoder.encode_ids([ids[i : i + 1] for i in range(len(ids))])
        with building(target) as tmp:
            np.save(tmp / table_file.name, distill(token_vectors))
    if table_file not in _LOADED:
        _LOADED[table_file] = StaticVectors(np.load(table_file))
    return _LOADED[table_file]
