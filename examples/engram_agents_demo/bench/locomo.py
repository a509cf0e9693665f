"""LoCoMo evidence-recall benchmark: the Engram store against dense-only retrieval (same encoder),
BM25 and plain Chroma RAG, all measured in the same run on the same turn texts.

Each conversation is one user's memory; every turn is remembered with its session date as event
time; every question is asked at a query time just after the last session. recall@k is the share
of a question's evidence turns among the top k retrieved turns (an engram that holds several turns
contributes them in order, so every system is judged on exactly k turns)."""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from engram_agents.store.encoders import Encoder, HashingEncoder, encode_checked, resolve_encoder
from engram_agents.store.errors import InvalidInputError
from engram_agents.store.timeexpr import parse_when

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
KS = (5, 10, 25)
SYSTEMS = ("engram", "dense", "bm25", "chroma")


class Turn(dict):
    """dia_id, session, date, text (speaker-prefixed, with any shared photo's caption)."""


def load(path: str | Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read LoCoMo file {str(path)!r}: {exc}") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(
        isinstance(c, dict) and "conversation" in c and "qa" in c for c in data
    ):
        raise InvalidInputError(
            f"{path}: expected a list of conversations with 'conversation' and 'qa'"
        )
    return data


def turns_of(conversation: dict[str, Any]) -> list[Turn]:
    conv = conversation["conversation"]
    sessions = sorted(
        (int(m.group(1)), key)
        for key in conv
        if (m := re.fullmatch(r"session_(\d+)", key)) and isinstance(conv[key], list)
    )
    out = []
    for number, key in sessions:
        date = parse_when(conv[f"{key}_date_time"])
        for turn in conv[key]:
            text = f"{turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [shares a photo of {turn['blip_caption']}]"
            out.append(Turn(dia_id=turn["dia_id"], session=number, date=date, text=text))
    return out


def evidence_of(qa: dict[str, Any], known: set[str]) -> list[str]:
    ids = []
    for item in qa.get("evidence") or []:
        ids += [p.strip() for p in re.split(r"[;,]", str(item)) if p.strip()]
    return [i for i in dict.fromkeys(ids) if i in known]


class CachedEncoder:
    """Questions are encoded once up front, so recall latency excludes query encoding; time spent
    encoding turns is counted, so ingestion can be reported with and without it."""

    def __init__(self, inner: Encoder) -> None:
        self.inner, self.dim, self.name = inner, inner.dim, inner.name
        self.cache: dict[str, np.ndarray] = {}
        self.encode_s = 0.0

    def warm(self, texts: list[str]) -> None:
        new = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if new:
            self.cache.update(zip(new, self.inner.encode(new), strict=True))

    def encode(self, texts: list[str]) -> np.ndarray:
        if all(t in self.cache for t in texts):
            return np.stack([self.cache[t] for t in texts])
        start = time.perf_counter()
        try:
            return self.inner.encode(texts)
        finally:
            self.encode_s += time.perf_counter() - start


# A system: ingest(turns) -> search(question, k) -> ranked dia_ids
Search = Callable[[str, int], list[str]]


def remember_turns(memory: Any, turns: list[Turn], user: str) -> datetime:
    """The conversation into `memory` (an EngramMemory) with the batch API: one encode and one
    transaction; each item keeps its own session, so turns are still read in the context of
    their session. Returns the time questions are asked at: a day after the last session."""
    from engram_agents.store.records import Evidence
    from engram_agents.store.store import MemoryItem

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


def engram_system(encoder: CachedEncoder, workdir: Path, user: str) -> Callable[..., Search]:
    from engram_agents.memory import EngramMemory

    memory = EngramMemory(workdir / "engram.db", encoder=encoder)

    def ingest(turns: list[Turn]) -> Search:
        now = remember_turns(memory, turns, user)

        def search(question: str, k: int) -> list[str]:
            ranked: list[str] = []
            # LoCoMo asks about the conversation's history ("where did she live before?"), so
            # an update must not hide the turn it updated: recall the superseded ones too.
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

    from engram_agents.store.backends.chroma import NoEmbedding

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
            q = encode_checked(encoder, [question])[0]
            n = min(k, len(turns))
            return collection.query(query_embeddings=[q.tolist()], n_results=n)["ids"][0]

        return search

    return ingest


def machine() -> dict[str, Any]:
    import os

    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }


def run(
    conversations: list[dict[str, Any]], encoder: Encoder, systems: tuple[str, ...] = SYSTEMS
) -> dict[str, Any]:
    cached = CachedEncoder(encoder)
    encoder.encode(["warm-up: the first call initializes the runtime and is not ingestion"])
    questions = [qa["question"] for c in conversations for qa in c["qa"]]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for system in systems:
            scores: dict[str, list[dict[int, float]]] = defaultdict(list)
            latencies: list[float] = []
            turns_total, ingest_s = 0, 0.0
            cached.encode_s = 0.0
            for n, conversation in enumerate(conversations):
                turns = turns_of(conversation)
                workdir = Path(tmp) / f"{system}-{n}"
                workdir.mkdir()
                factory = {
                    "engram": lambda w=workdir, n=n: engram_system(cached, w, f"conv-{n}"),
                    "dense": lambda: dense_system(cached),
                    "bm25": bm25_system,
                    "chroma": lambda w=workdir, n=n: chroma_system(cached, w, f"conv{n}"),
                }[system]()
                start = time.perf_counter()
                search = factory(turns)
                ingest_s += time.perf_counter() - start
                turns_total += len(turns)
                known = {t["dia_id"] for t in turns}
                cached.warm([qa["question"] for qa in conversation["qa"]])
                for qa in conversation["qa"]:
                    evidence = evidence_of(qa, known)
                    if not evidence:
                        continue
                    start = time.perf_counter()
                    ranked = search(qa["question"], max(KS))
                    latencies.append((time.perf_counter() - start) * 1000)
                    got = {k: len(set(ranked[:k]) & set(evidence)) / len(evidence) for k in KS}
                    scores["overall"].append(got)
                    scores[CATEGORIES.get(qa.get("category"), "other")].append(got)
            entry: dict[str, Any] = {
                name: {f"recall@{k}": round(100 * statistics.fmean(s[k] for s in rows), 2)
                       for k in KS} | {"questions": len(rows)}
                for name, rows in scores.items()
            }  # fmt: skip
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
        "questions": len(questions),
        "encoder": encoder.name,
        "engram_recall": "include_superseded=True (questions about the conversation's history)",
        "machine": machine(),
    }
    return results


def _table(results: dict[str, Any]) -> str:
    lines = [f"{'system':8} {'R@5':>6} {'R@10':>6} {'R@25':>6} {'p50 ms':>8} {'turns/s':>9}"]
    for system in SYSTEMS:
        if system in results:
            o, r = results[system]["overall"], results[system]
            lines.append(
                f"{system:8} {o['recall@5']:6.1f} {o['recall@10']:6.1f} {o['recall@25']:6.1f} "
                f"{r['latency_ms']['p50']:8.2f} {r['ingest_turns_per_s']:9.1f}"
            )
    return "\n".join(lines)


def cli(argv: list[str]) -> int:
    """`engram-agents bench locomo FILE [--json] [--systems ...] [--encoder PATH|hashing]`."""
    parser = argparse.ArgumentParser(prog="engram-agents bench locomo", description=__doc__)
    parser.add_argument("file", help="LoCoMo-format JSON file")
    parser.add_argument("--json", action="store_true", help="print one JSON object (last line)")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument(
        "--encoder",
        default=None,
        help="sentence-transformers folder; 'hashing' for a fast toy encoder (default: MiniLM)",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N conversations only")
    args = parser.parse_args(argv)
    try:
        conversations = load(args.file)[: args.limit]
        encoder = HashingEncoder() if args.encoder == "hashing" else resolve_encoder(args.encoder)
        results = run(conversations, encoder, tuple(args.systems))
    except InvalidInputError as exc:
        print(f"error: {exc}")
        return 2
    print(json.dumps(results) if args.json else _table(results))
    return 0
