"""How the Chroma backend lays out a row: its vector as the record's embedding, everything
else as metadata (a long turn's passages sealed into one string, since a record holds one
vector); and the embedding function it hands Chroma, which refuses to embed."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from engram_agents.store.errors import StoreError
from engram_agents.store.passages import Passages
from engram_agents.store.rows import EngramRow


class NoEmbedding:
    """Chroma must never embed on its own (its default downloads a model): the store always
    passes vectors, and this function refuses to be called."""

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        raise StoreError("the engram store passes its own vectors; Chroma must not embed")

    @staticmethod
    def name() -> str:
        return "engram-agents-external"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> NoEmbedding:
        return NoEmbedding()

    def is_legacy(self) -> bool:
        return False


def row_meta(row: EngramRow) -> dict[str, Any]:
    # Chroma's upsert merges metadata keys, so a row without new passages keeps the stored ones.
    kept = {} if row.passages is None else {"passages": sealed_passages(row.passages)}
    return kept | {
        "user_id": row.user_id,
        "agent_id": row.agent_id or "",
        "session_id": row.session_id or "",
        "tier": row.tier,
        "active": row.active,
        "when_ts": row.when_ts,
        "created_ts": row.created_ts,
        "tags": "\n".join(row.tags),
        "payload": base64.b64encode(row.payload).decode(),
        "activations": row.activations,
        "last_access_ts": row.last_access_ts,
        "usefulness": row.usefulness,
        "strength": row.strength,
    }


def sealed_passages(passages: Passages) -> str:
    """A long turn's passages as one metadata string (Chroma records hold one vector)."""
    if not len(passages):
        return ""
    spans = base64.b64encode(passages.spans.astype(np.int64).tobytes()).decode()
    return spans + ":" + base64.b64encode(passages.vectors.astype(np.float32).tobytes()).decode()


def opened_passages(stored: str, dim: int) -> Passages:
    if not stored:
        return Passages.none(dim)
    spans, vectors = (base64.b64decode(part) for part in stored.split(":"))
    return Passages(
        np.frombuffer(spans, dtype=np.int64).reshape(-1, 2),
        np.frombuffer(vectors, dtype=np.float32).reshape(-1, dim),
    )


def access_counts(meta: dict[str, Any]) -> tuple[int, float]:
    return int(meta["activations"]), float(meta["last_access_ts"])


def read_row(engram_id: str, meta: dict[str, Any], vector: Any) -> EngramRow:
    vector = np.asarray(vector, dtype=np.float32)
    return EngramRow(
        id=engram_id,
        user_id=meta["user_id"],
        agent_id=meta["agent_id"] or None,
        session_id=meta["session_id"] or None,
        tier=meta["tier"],
        active=bool(meta["active"]),
        when_ts=float(meta["when_ts"]),
        created_ts=float(meta["created_ts"]),
        tags=meta["tags"].split("\n") if meta["tags"] else [],
        vector=vector,
        payload=base64.b64decode(meta["payload"]),
        activations=int(meta["activations"]),
        last_access_ts=float(meta["last_access_ts"]),
        usefulness=float(meta["usefulness"]),
        strength=float(meta["strength"]),
        passages=opened_passages(meta.get("passages", ""), len(vector)),
    )
