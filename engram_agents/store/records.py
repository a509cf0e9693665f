"""Public records of the episodic store (pydantic, so they validate and serialize to JSON)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engram_agents.ids import check_id


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are read as UTC so comparisons never mix aware and naive values."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Tier(StrEnum):
    SHORT = "short"
    LONG = "long"


class Scope(BaseModel):
    """Who owns an engram; every read and write is confined to one user."""

    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1, max_length=256)
    agent_id: str | None = Field(default=None, max_length=256)
    session_id: str | None = Field(default=None, max_length=256)


class Evidence(BaseModel):
    """Pointer to the raw evidence an engram came from; merges keep every pointer."""

    model_config = ConfigDict(frozen=True)

    session_id: str | None = None
    turn_id: str | None = None
    uri: str | None = None
    engram_id: str | None = None


class EngramMetadata(BaseModel):
    created_at: datetime = Field(default_factory=utcnow)
    event_time: datetime | None = None
    modality: str = "text"
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("created_at", "event_time")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)


class EngramStats(BaseModel):
    activations: int = 0
    last_access: datetime | None = None
    usefulness: float = 0.0
    strength: float = 1.0


class Version(BaseModel):
    """One entry of an engram's history: what it replaced or absorbed, and why. `session_id` is
    the session a folded-in statement came from (reinforced, merged), so forgetting that session
    can take the statement out again."""

    at: datetime = Field(default_factory=utcnow)
    action: str
    engram_id: str | None = None
    text: str | None = None
    session_id: str | None = None


_SPEAKER_PREFIX = re.compile(r"^\s*([A-Za-z][\w.'-]*(?: [A-Z][\w.'-]*)?):\s+")


def speaker_of(fields: dict[str, Any]) -> str | None:
    """Who said it, from a chat message's (or an engram's metadata) name, speaker or role."""
    who = fields.get("name") or fields.get("speaker") or fields.get("role")
    return who.strip() if isinstance(who, str) and who.strip() else None


class Engram(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    scope: Scope
    text: str
    sketch: list[str] = Field(default_factory=list)
    metadata: EngramMetadata = Field(default_factory=EngramMetadata)
    stats: EngramStats = Field(default_factory=EngramStats)
    tier: Tier = Tier.SHORT
    superseded_by: str | None = None
    history: list[Version] = Field(default_factory=list)

    @property
    def is_active(self) -> bool:
        return self.superseded_by is None

    @property
    def speaker(self) -> str | None:
        """Who said it: the message's name or role, else a "Name: " prefix of the text."""
        if who := speaker_of(self.metadata.extra):
            return who
        match = _SPEAKER_PREFIX.match(self.text)
        return match.group(1) if match else None

    @property
    def content(self) -> str:
        """The text without the "role: " prefix that chat messages are stored with (only a
        prefix naming the message's speaker: "Dentist: Tuesday at 3" keeps its subject)."""
        who = speaker_of(self.metadata.extra)
        prefix = f"{who}: " if who else None
        return self.text.removeprefix(prefix) if prefix else self.text

    @property
    def when(self) -> datetime:
        """The time an engram is about: its stated event time, else when it was stored."""
        return self.metadata.event_time or self.metadata.created_at


class TimeRange(BaseModel):
    start: datetime | None = None
    end: datetime | None = None

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)


class RecallFilters(BaseModel):
    """Hard filters; an engram must pass all of them to be returned. Scopes: the user is always
    a boundary (no read or write reaches another user's engrams). `agent_id` and `session_id`
    are the agent that remembered an engram and the session it was first said in; given, each
    is a boundary (only those engrams), omitted, no restriction. Writes keep agents apart: an
    agent's engram is never reinforced, replaced or merged by another agent's statement."""

    time_range: TimeRange | None = None
    tags: list[str] = Field(default_factory=list)
    session_id: str | None = None
    agent_id: str | None = None
    tier: Tier | None = None
    include_superseded: bool = False


class Passage(BaseModel):
    """The part of a long turn that matched a query best: character offsets into the engram's
    text (the evidence pointer) and that text. Turns within the encoder's window have none."""

    start: int
    end: int
    text: str


class RecallHit(BaseModel):
    engram: Engram
    score: float
    similarity: float
    matched_tags: list[str]
    explanation: str
    passage: Passage | None = None
    # Each signal's weighted share of `score` (FusionWeights' names), so a reader sees why.
    parts: dict[str, float] = Field(default_factory=dict)


class MemoryItem(BaseModel):
    """One thing to remember (the unit of `remember_many`)."""

    text: str
    session_id: str | None = None
    agent_id: str | None = None
    event_time: datetime | None = None
    modality: str = "text"
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ConsolidationReport(BaseModel):
    promoted: list[str] = Field(default_factory=list)
    merged: dict[str, list[str]] = Field(default_factory=dict)
    evicted: list[str] = Field(default_factory=list)
    decayed: int = 0


def scope_of(user_id: str, agent_id: str | None, session_id: str | None) -> Scope:
    check_id(user_id)
    for name, value in (("agent_id", agent_id), ("session_id", session_id)):
        if value is not None:
            check_id(value, name)
    return Scope(user_id=user_id, agent_id=agent_id, session_id=session_id)
