"""Request bodies of the REST API: the keyword arguments of `EngramMemory`'s verbs, strict (a
string is not a number or a flag, unknown fields are refused) so a typo fails, not ignored."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from engram_agents.store.records import Evidence, MemoryItem, RecallFilters, Tier
from engram_agents.store.validation import RecallK

TimeRangeArg = str | tuple[str | None, str | None] | None


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RememberBody(Body):
    content: StrictStr | list[dict[str, Any]] = Field(
        description="a text, or chat messages ({'role', 'content'}) remembered one engram each"
    )
    agent_id: str | None = None
    session_id: str | None = None
    metadata: dict[str, Any] | None = None
    event_time: str | None = Field(default=None, description="ISO date-time the text is about")
    evidence: list[Evidence] | None = None
    redact: StrictBool | None = None


class RememberManyBody(Body):
    items: list[MemoryItem | str] = Field(min_length=1)
    agent_id: str | None = None
    session_id: str | None = None
    redact: StrictBool | None = None


class RecallBody(Body):
    query: StrictStr
    k: RecallK = 10  # the core's rule and message (check_k)
    filters: RecallFilters | None = None
    time_range: TimeRangeArg = Field(
        default=None, description='a phrase ("last week") or a [start, end] pair of ISO dates'
    )
    tags: list[str] | None = None
    agent_id: str | None = None
    session_id: str | None = None
    tier: Tier | None = None
    include_superseded: StrictBool = False
    now: str | None = None


class UpdateBody(Body):
    text: str | None = None
    metadata: dict[str, Any] | None = None
    event_time: str | None = None


class IdsBody(Body):
    ids: list[str] = Field(min_length=1)


class FeedbackBody(IdsBody):
    useful: StrictBool = True


class ReplyBody(Body):
    reply: StrictStr
    recalled: list[StrictStr]
    query: StrictStr | None = None


class ConsentBody(Body):
    remember: StrictBool


class Consent(BaseModel):
    remember: bool


class ForgetBody(Body):
    session_id: str | None = None
    tags: list[str] | None = None
    time_range: TimeRangeArg = None
    everything: StrictBool = False


class Deleted(BaseModel):
    deleted: int


class AuditStatus(BaseModel):
    verified: bool
    entries: int
