"""The storage form of an engram: filterable columns in clear, the rest as one payload that may be
encrypted. Backends store rows; only the codec knows about records and keys."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from pydantic import ValidationError

from engram_agents.store.crypto import Cipher
from engram_agents.store.errors import StoreError
from engram_agents.store.passages import Passages
from engram_agents.store.records import Engram, EngramStats, Tier


@dataclass
class EngramRow:
    id: str
    user_id: str
    agent_id: str | None
    session_id: str | None
    tier: str
    active: bool
    when_ts: float
    created_ts: float
    tags: list[str]
    vector: np.ndarray
    payload: bytes
    activations: int = 0
    last_access_ts: float = 0.0
    usefulness: float = 0.0
    strength: float = 1.0
    # A long turn's passages (store.passages); None keeps what is stored (a write that does
    # not change the text), an empty one removes them.
    passages: Passages | None = None


@dataclass
class AuditEvent:
    """One entry of the hash-chained audit log (seq and hashes are set by the backend)."""

    user_id: str
    action: str
    engram_ids: list[str]
    detail: dict = field(default_factory=dict)
    ts: float = 0.0
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""


TAGS_PER_USER = "per-user"  # the ("", "tag_keys") setting of stores whose tag keys are per user
_SEALED = "sealed:"


class Codec:
    """Engram <-> row; with a cipher, text and metadata are AES-GCM sealed, tags hashed under a
    key per user (`per_user_tags`; stores made before it use one store-wide key) and setting
    values sealed."""

    def __init__(self, cipher: Cipher | None = None, per_user_tags: bool = True) -> None:
        self.cipher = cipher
        self.per_user_tags = per_user_tags

    def index_tags(self, tags: list[str], user_id: str) -> list[str]:
        if self.cipher is None:
            return list(tags)
        owner = user_id if self.per_user_tags else None
        return [self.cipher.hash_tag(t, owner) for t in tags]

    def seal_setting(self, user_id: str, key: str, value: str) -> str:
        if self.cipher is None:
            return value
        blob = self.cipher.encrypt(value.encode(), f"setting:{user_id}:{key}")
        return _SEALED + base64.b64encode(blob).decode()

    def open_setting(self, user_id: str, key: str, stored: str | None) -> str | None:
        """A stored setting value in clear (values written before sealing are read as is)."""
        if stored is None or self.cipher is None or not stored.startswith(_SEALED):
            return stored
        blob = base64.b64decode(stored.removeprefix(_SEALED))
        return self.cipher.decrypt(blob, f"setting:{user_id}:{key}").decode()

    def to_row(
        self, engram: Engram, vector: np.ndarray, passages: Passages | None = None
    ) -> EngramRow:
        body = engram.model_dump_json(exclude={"stats"}).encode()
        payload = self.cipher.encrypt(body, engram.id) if self.cipher else body
        last = engram.stats.last_access
        return EngramRow(
            id=engram.id,
            user_id=engram.scope.user_id,
            agent_id=engram.scope.agent_id,
            session_id=engram.scope.session_id,
            tier=engram.tier.value,
            active=engram.is_active,
            when_ts=engram.when.timestamp(),
            created_ts=engram.metadata.created_at.timestamp(),
            tags=self.index_tags(engram.sketch, engram.scope.user_id),
            vector=np.asarray(vector, dtype=np.float32),
            payload=payload,
            activations=engram.stats.activations,
            last_access_ts=last.timestamp() if last else 0.0,
            usefulness=engram.stats.usefulness,
            strength=engram.stats.strength,
            passages=passages,
        )

    def plain(self, row: EngramRow) -> bytes:
        """The stored JSON of the engram's fields, decrypted (cheap to look into)."""
        return self.cipher.decrypt(row.payload, row.id) if self.cipher else row.payload

    def to_engram(self, row: EngramRow) -> Engram:
        """The record of a row: the payload parsed and validated in one pass (pydantic's JSON
        mode; every recall hit pays this), the columns that change in place put on top."""
        try:
            engram = Engram.model_validate_json(self.plain(row))
        except ValidationError as exc:
            if exc.errors()[0]["type"] != "json_invalid":
                raise
            hint = " (encrypted store opened without its key?)" if not self.cipher else ""
            raise StoreError(f"engram {row.id} payload is unreadable{hint}") from exc
        engram.stats = EngramStats(
            activations=row.activations,
            last_access=datetime.fromtimestamp(row.last_access_ts, UTC)
            if row.last_access_ts
            else None,
            usefulness=row.usefulness,
            strength=row.strength,
        )
        engram.tier = Tier(row.tier)
        return engram
