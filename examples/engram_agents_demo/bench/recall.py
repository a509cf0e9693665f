"""Evidence recall of the Engram store against in-run baselines on the same turns: dense-only
retrieval with the same encoder, BM25 and plain Chroma RAG. The data-set readers (`locomo`,
`beam`) turn their files into `Conversation`s; everything measured is measured here, once.

recall@k is the share of a question's evidence turns among the top k retrieved turns (an engram
that holds several turns contributes them in order, so every system is judged on exactly k
turns)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from engram_agents.store.config import StoreConfig
from engram_agents.store.encoders import Encoder, HashingEncoder, encode_checked, resolve_encoder
from engram_agents.store.errors import InvalidInputError
from engram_agents.store.timeexpr import parse_when
from engram_agents_demo.bench.report import margins, question_row, table

KS = (5, 10, 25)
SYSTEMS = ("engram", "dense", "bm25", "chroma")
# Sessions without a readable date still need event times: a day after the one before, from here.
START = datetime(2024, 1, 1, tzinfo=UTC)


def date_or(value: Any, fallback: datetime) -> datetime:
    """`value` read as a date/time, or `fallback` where it is missing or unreadable ("None")."""
    if not value:
        return fallback
    try:
        return parse_when(str(value))
    except InvalidInputError:
        return fallback


class Turn(dict):
    """dia_id, session, date, text (speaker-prefixed)."""


@dataclass
class Question:
    text: str
    evidence: list[str]
    category: str
    answer: str = ""  # the gold answer, where the data set has one (a reply to simulate with)


@dataclass
class Conversation:
    """One user's memory: the turns, in order, and the questions asked after the last one."""

    name: str
    turns: list[Turn]
    questions: list[Question] = field(default_factory=list)


class CachedEncoder:
    """Questions are encoded once up front, so recall latency excludes query encoding; time spent
    encoding turns is counted, so ingestion can be reported with and without it."""

    def __init__(self, inner: Encoder) -> None:
        self.inner, self.dim, self.name = inner, inner.dim, inner.name
        # how the store finds long turns and reads them from their tokens (store.passages)
        tokens = ("token_spans", "max_tokens", "tokenize", "token_ids")
        for name in (*tokens, "model_file", "vocabulary_size"):
            if hasattr(inner, name):
                setattr(self, name, getattr(inner, name))
        if hasattr(inner, "encode_ids"):
            self.encode_ids = self._timed(inner.encode_ids)
        self.cache: dict[str, np.ndarray] = {}
        self.encode_s = 0.0
        self._lock, self._running, self._since = threading.Lock(), 0, 0.0

    def warm(self, texts: list[str]) -> None:
        new = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if new:
            self.cache.update(zip(new, self.inner.encode(new), strict=True))

    def encode(self, texts: list[str]) -> np.ndarray:
        if all(t in self.cache for t in texts):
            return np.stack([self.cache[t] for t in texts])
        return self._timed(self.inner.encode)(texts)

    def _timed(self, encode: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        """Counts the wall time during which at least one encode runs: the store may encode from
        several threads at once, and summing their calls would count the same seconds twice."""

        def timed(*args: Any) -> np.ndarray:
            with self._lock:
                if not self._running:
                    self._since = time.perf_counter()
                self._running += 1
            try:
                return encode(*args)
            finally:
                with self._lock:
                    self._running -= 1
                    if not self._running:
                        self.encode_s += time.perf_counter() - self._since

        return timed


# A system: ingest(turns) -> search(question, k) -> ranked dia_ids
Search = Callable[[str, int], list[str]]


def remember_turns(memory: Any, turns: list[Turn], user: str) -> datetime:
    """The conversation into `memory` (an EngramMemory) with the batch API: one encode and one
    transaction; each item keeps its own session, so turns are still read in the context of
    their session. Returns the time questions are asked at: a day after the last session."""
    from engram_agents.store.records import Evidence, MemoryItem

    memory.remember_many(
        [
            MemoryItem(
                text=t["text"],
                event_time=t["date"],
                session_id=f"session_{t['session']}",
                evidence=[Evidence(session_id=f"session_{t['session']}", turn_id=t["dia_id"])],
            )
            for t in turns
        ],
        user,
    )
    return max(t["date"] for t in turns) + timedelta(days=1)


def engram_system(
    encoder: CachedEncoder, workdir: Path, user: str, config: StoreConfig | None = None
) -> Callable[..., Search]:
    from engram_agents.memory import EngramMemory

    memory = EngramMemory(workdir / "engram.db", encoder=encoder, config=config)

    def ingest(turns: list[Turn]) -> Search:
        now = remember_turns(memory, turns, user)

        def search(question: str, k: int) -> list[str]:
            ranked: list[str] = []
            # The questions ask about the conversation's history ("where did she live before?"),
            # so an update must not hide the turn it updated: recall the superseded ones too.
            for hit in memory.recall(question, user, k=k, now=now, include_superseded=True):
                ranked += [p.turn_id for p in hit.engram.metadata.evidence if p.turn_id]
            return list(dict.fromkeys(ranked))[:k]

        return search

    return ingest


def dense_system(encoder: CachedEncoder) -> Callable[..., Search]:
    def ingest(turns: list[Turn]) -> Search:
        matrix = encode_checked(encoder, [t["text"] for t in turns])
        ids = [t["dia_id"] for t in turns]

        def search(question: str, k: int) -> list[str]:
            q = encode_checked(encoder, [question])[0]
            return [ids[i] for i in np.argsort(-(matrix @ q), kind="stable")[:k]]

        return search

    return ingest


def bm25_system() -> Callable[..., Search]:
    from rank_bm25 import BM25Okapi

    def tokens(text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())

    def ingest(turns: list[Turn]) -> Search:
        index = BM25Okapi([tokens(t["text"]) for t in turns])
        ids = [t["dia_id"] for t in turns]

        def search(question: str, k: int) -> list[str]:
            scores = index.get_scores(tokens(question))
            return [ids[i] for i in np.argsort(-scores, kind="stable")[:k]]

        return search

    return ingest


def chroma_system(encoder: CachedEncoder, workdir: Path, name: str) -> Callable[..., Search]:
    import chromadb

    from engram_agents.store.backends.chroma_rows import NoEmbedding

    client = chromadb.PersistentClient(path=str(workdir / "chroma"))

    def ingest(turns: list[Turn]) -> Search:
        collection = client.create_collection(
            name, embedding_function=NoEmbedding(), metadata={"hnsw:space": "cosine"}
        )
        vectors = encode_checked(encoder, [t["text"] for t in turns])
        collection.add(
            ids=[t["dia_id"] for t in turns],
            documents=[t["text"] for t in turns],
            embeddings=vectors.tolist(),
        )

        def search(question: str, k: int) -> list[str]:
            q = encode_checked(encoder, [question])[0].tolist()
            return collection.query(query_embeddings=[q], n_results=min(k, len(turns)))["ids"][0]

        return search

    return ingest


def machine() -> dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }


def _mean(rows: list[dict[int, float]]) -> dict[str, Any]:
    recall = {f"recall@{k}": round(100 * statistics.fmean(r[k] for r in rows), 2) for k in KS}
    return recall | {"questions": len(rows)}


def run(
    conversations: list[Conversation],
    encoder: Encoder,
    systems: tuple[str, ...] = SYSTEMS,
    variants: dict[str, StoreConfig] | None = None,
    per_question: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every system (and every named store configuration in `variants`, reported as
    `engram[NAME]`) over every conversation, with the same cached encoder; `per_question`
    gets each system's answer to each question (`report.question_row`)."""
    cached = CachedEncoder(encoder)
    encoder.encode(["warm-up: the first call initializes the runtime and is not ingestion"])
    configs: dict[str, StoreConfig | None] = {s: None for s in systems}
    configs |= {f"engram[{name}]": config for name, config in (variants or {}).items()}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for system, config in configs.items():
            scores: dict[str, list[dict[int, float]]] = defaultdict(list)
            latencies: list[float] = []
            turns_total, ingest_s = 0, 0.0
            cached.encode_s = 0.0
            for n, conversation in enumerate(conversations):
                turns = conversation.turns
                workdir = Path(tmp) / f"{len(results)}-{n}"
                workdir.mkdir()
                if system.startswith("engram"):
                    factory = engram_system(cached, workdir, f"conv-{n}", config)
                elif system == "dense":
                    factory = dense_system(cached)
                elif system == "bm25":
                    factory = bm25_system()
                else:
                    factory = chroma_system(cached, workdir, f"conv{n}")
                start = time.perf_counter()
                search = factory(turns)
                ingest_s += time.perf_counter() - start
                turns_total += len(turns)
                known = {t["dia_id"] for t in turns}
                cached.warm([q.text for q in conversation.questions])
                for question in conversation.questions:
                    evidence = [i for i in question.evidence if i in known]
                    if not evidence:
                        continue
                    start = time.perf_counter()
                    ranked = search(question.text, max(KS))
                    latencies.append((time.perf_counter() - start) * 1000)
                    got = {k: len(set(ranked[:k]) & set(evidence)) / len(evidence) for k in KS}
                    if per_question:
                        row = question_row(
                            system, conversation.name, question, evidence, ranked, got
                        )
                        per_question(row)
                    scores["overall"].append(got)
                    scores[question.category].append(got)
                    scores[f"conversation:{conversation.name}"].append(got)
            entry: dict[str, Any] = {name: _mean(rows) for name, rows in scores.items()}
            entry["latency_ms"] = {
                "p50": round(float(np.percentile(latencies, 50)), 3) if latencies else None,
                "p95": round(float(np.percentile(latencies, 95)), 3) if latencies else None,
                "excludes": "query encoding",
            }
            entry["ingest_turns_per_s"] = round(turns_total / max(ingest_s, 1e-9), 1)
            store_s = max(ingest_s - cached.encode_s, 1e-9)
            entry["ingest_turns_per_s_excluding_encoding"] = round(turns_total / store_s, 1)
            results[system] = entry
    results["meta"] = {
        "conversations": len(conversations),
        "turns": sum(len(c.turns) for c in conversations),
        "questions": sum(len(c.questions) for c in conversations),
        "encoder": encoder.name,
        "engram_recall": "include_superseded=True (questions about the conversation's history)",
        "margins": margins(results),
        "machine": machine(),
    }
    return results


def _variant(spec: str) -> tuple[str, StoreConfig]:
    name, sep, overrides = spec.partition("=")
    if not sep or not name:
        raise InvalidInputError(f"--variant {spec!r}: expected NAME=JSON (StoreConfig fields)")
    try:
        base = StoreConfig().model_dump()
        for key, value in json.loads(overrides).items():
            base[key] = base[key] | value if isinstance(base.get(key), dict) else value
        return name, StoreConfig.model_validate(base)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidInputError(f"--variant {spec!r}: {exc}") from exc


def run_cli(
    argv: list[str], prog: str, doc: str, source: str, read: Callable[[str], list[Conversation]]
) -> int:
    """`engram-agents bench NAME SOURCE [--json] [--systems ...] [--encoder PATH|hashing]
    [--limit N] [--variant NAME=JSON ...]`; `read` turns SOURCE into conversations."""
    parser = argparse.ArgumentParser(prog=prog, description=doc)
    parser.add_argument("source", help=source)
    parser.add_argument("--json", action="store_true", help="print one JSON object (last line)")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument(
        "--encoder",
        default=None,
        help="sentence-transformers folder; 'hashing' for a fast toy encoder (default: MiniLM)",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N conversations only")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help='also run the store with these StoreConfig overrides, e.g. \'nostmt={"weights": '
        '{"statement": 0}}\' (reported as engram[NAME])',
    )
    parser.add_argument(
        "--per-question",
        metavar="PATH",
        help="also write one JSON line per system and question: its ranked turn ids, where each "
        "evidence turn came, its recall@k",
    )
    args = parser.parse_args(argv)
    try:
        variants = dict(_variant(v) for v in args.variant)
        conversations = read(args.source)[: args.limit]
        encoder = HashingEncoder() if args.encoder == "hashing" else resolve_encoder(args.encoder)
        with _lines(args.per_question) as write:
            results = run(conversations, encoder, tuple(args.systems), variants, write)
    except InvalidInputError as exc:
        print(f"error: {exc}")
        return 2
    print(json.dumps(results) if args.json else table(results))
    return 0


@contextmanager
def _lines(path: str | None) -> Iterator[Callable[[dict[str, Any]], None] | None]:
    """A writer of JSON lines to `path` (None: no writer), the file opened before the run."""
    if path is None:
        yield None
        return
    try:
        out = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InvalidInputError(f"--per-question {path!r}: {exc.strerror or exc}") from exc
    with out:
        yield lambda row: out.write(json.dumps(row) + "\n")
