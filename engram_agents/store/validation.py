"""Input checks shared by every entry point: they run before any write, so bad input never leaves
a partial change behind."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TextIO

import pydantic_core
from pydantic import BeforeValidator, Field, ValidationError

from engram_agents.ids import check_id
from engram_agents.store.errors import InvalidInputError
from engram_agents.store.records import (
    MemoryItem,
    RecallFilters,
    RecallHit,
    Tier,
    TimeRange,
    speaker_of,
)
from engram_agents.store.timeexpr import parse_when, query_time_range

__all__ = [
    "MAX_K",
    "CheckedId",
    "RecallK",
    "check_export_path",
    "check_flag",
    "check_id",
    "check_ids",
    "check_k",
    "check_metadata",
    "check_tags",
    "check_text",
    "check_tier",
    "check_time_range",
    "describe",
    "memory_item",
    "message_item",
    "optional_flag",
    "optional_id",
    "recall_filters",
    "time_range_of",
]


def check_text(value: object, max_bytes: float, what: str = "text") -> str:
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{what} is not valid UTF-8 (byte {exc.start})") from exc
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{what} is not valid UTF-8 (lone surrogate at position {exc.start})"
        ) from exc
    if "\x00" in value:
        raise InvalidInputError(f"{what} contains a NUL character")
    if not value.strip():
        raise InvalidInputError(f"{what} is empty or only whitespace")
    if size > max_bytes:
        raise InvalidInputError(f"{what} is {size} bytes; the limit is {max_bytes} bytes")
    return value


def check_ids(value: object, what: str = "engram_id") -> list[str]:
    """One id or an iterable of ids (a single string is one id, never its characters)."""
    if isinstance(value, str):
        return [check_id(value, what)]
    if (
        value is None
        or isinstance(value, bytes | bytearray | dict)
        or not isinstance(value, Iterable)
    ):
        raise InvalidInputError(f"{what} must be a string or a list of strings, got {value!r}")
    ids = [check_id(v, what) for v in value]
    if not ids:
        raise InvalidInputError(f"the list of {what}s is empty")
    return ids


def _check_json(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(f"{where} is {value}: only finite numbers can be stored")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"{where} has a non-string key {key!r}")
            _check_json(item, f"{where}[{key!r}]")
    elif isinstance(value, list | tuple):
        for n, item in enumerate(value):
            _check_json(item, f"{where}[{n}]")
    elif value is not None and not isinstance(value, str | int | float | bool):
        try:  # what pydantic writes as JSON (datetime, UUID, enum, ...) is fine
            pydantic_core.to_json(value)
        except pydantic_core.PydanticSerializationError:
            raise InvalidInputError(
                f"{where} is a {type(value).__name__}, which cannot be stored as JSON "
                "(use str, numbers, bool, None, dates, and lists and dicts of them)"
            ) from None


def check_metadata(value: object, what: str = "metadata") -> dict[str, Any]:
    """A dict of JSON data, so it is stored and exported exactly as given (no NaN turned null)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} must be a dict, got {type(value).__name__} {value!r}")
    _check_json(value, what)
    return value


def check_tags(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidInputError(f"tags must be a list of strings such as ['kw:x'], got {value!r}")
    for tag in value:
        if not isinstance(tag, str) or not tag.strip() or "\x00" in tag:
            raise InvalidInputError(f"each tag must be a non-empty string, got {tag!r}")
    return list(value)


def check_tier(value: object) -> Tier | None:
    if value is None or isinstance(value, Tier):
        return value
    if value not in {t.value for t in Tier}:
        choices = ", ".join(repr(t.value) for t in Tier)
        raise InvalidInputError(f"tier must be one of {choices} or None, got {value!r}")
    return Tier(value)


def check_time_range(value: TimeRange | None) -> TimeRange | None:
    if value is not None and value.start and value.end and value.start > value.end:
        raise InvalidInputError(
            f"time_range starts after it ends ({value.start.isoformat()} > {value.end.isoformat()})"
        )
    return value


def check_flag(value: object, what: str) -> bool:
    """A real bool: "no" or 1 would otherwise be truthy and switch the option on."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"{what} must be True or False, got {value!r}")
    return value


def optional_flag(value: object, what: str) -> bool | None:
    return None if value is None else check_flag(value, what)


def describe(exc: ValidationError) -> str:
    """A pydantic error as "field: problem; ..." (the caller's words, not pydantic's dump)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())


def _known_keys(value: dict[Any, Any], fields: Iterable[str], what: str) -> None:
    """A misspelt key would otherwise be ignored without a word."""
    known = set(fields)
    unknown = [key for key in value if key not in known]
    if unknown:
        raise InvalidInputError(
            f"{what} has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys are {', '.join(sorted(known))}"
        )


def memory_item(value: Any, n: int) -> MemoryItem:
    """One `remember_many` item: a MemoryItem, a dict of its fields, or a text."""
    if isinstance(value, MemoryItem):
        item = value
    elif isinstance(value, dict):
        _known_keys(value, MemoryItem.model_fields, f"item {n}")
        try:
            item = MemoryItem.model_validate(value)
        except ValidationError as exc:
            raise InvalidInputError(f"bad item {n} for remember_many: {describe(exc)}") from exc
    else:
        return unchecked_item(value)  # the store's check_text names the problem
    check_metadata(item.metadata, f"item {n} metadata")
    optional_id(item.session_id, f"item {n} session_id")
    optional_id(item.agent_id, f"item {n} agent_id")
    return item


def recall_filters(
    filters: object, keywords: dict[str, Any], now: datetime | None
) -> RecallFilters:
    """The filters of one recall: `filters` (RecallFilters or a dict of its fields) or the
    keyword filters, never both (one of them would be silently ignored)."""
    if filters is None:
        return RecallFilters(
            time_range=time_range_of(keywords["time_range"], now),
            tags=check_tags(keywords["tags"]),
            agent_id=optional_id(keywords["agent_id"], "agent_id"),
            session_id=optional_id(keywords["session_id"], "session_id"),
            tier=check_tier(keywords["tier"]),
            include_superseded=check_flag(keywords["include_superseded"], "include_superseded"),
        )
    given = [name for name, value in keywords.items() if value not in (None, False)]
    if given:
        raise InvalidInputError(
            f"pass either filters or {', '.join(given)}, not both (put them into filters)"
        )
    if isinstance(filters, dict):
        _known_keys(filters, RecallFilters.model_fields, "filters")
        optional_flag(filters.get("include_superseded"), "filters include_superseded")
        filters = RecallFilters.model_validate(filters)  # a ValidationError names the field
    if not isinstance(filters, RecallFilters):
        raise InvalidInputError(f"filters must be RecallFilters or a dict, got {filters!r}")
    check_time_range(filters.time_range)
    check_tags(filters.tags)
    optional_id(filters.agent_id, "agent_id")
    optional_id(filters.session_id, "session_id")
    return filters


def check_export_path(value: object) -> Path | None:
    """A file path whose folder exists, checked before the export is read (and audited)."""
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise InvalidInputError(f"export path must be a str or a Path, got {type(value).__name__}")
    path = Path(value)
    if "\x00" in str(path):
        raise InvalidInputError("export path contains a NUL character")
    try:
        is_dir, folder = path.is_dir(), path.parent.is_dir()
    except OSError as exc:  # e.g. a name longer than the file system takes
        raise InvalidInputError(f"export path {str(path)!r}: {exc.strerror}") from None
    if is_dir:
        raise InvalidInputError(f"export path {str(path)!r} is a directory, not a file")
    if not folder:
        raise InvalidInputError(f"export path {str(path)!r}: its folder does not exist")
    return path


@contextmanager
def export_file(path: Path) -> Iterator[TextIO]:
    """A file beside `path` opened before the export is read (and audited), so an unwritable
    path is refused with nothing logged; it replaces `path` only once fully written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        out = open(tmp, "w", encoding="utf-8")  # noqa: SIM115 (closed below, then renamed)
    except OSError as exc:
        raise InvalidInputError(f"export path {str(path)!r}: {exc.strerror}") from None
    try:
        with out:
            yield out
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


MAX_K = 1000  # the most memories one recall returns, on every surface (core, server, integrations)


def check_k(k: object, what: str = "k") -> int:
    """The one rule for how many memories a recall returns: an int (not a bool) in 1..MAX_K."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInputError(f"{what} must be an integer between 1 and {MAX_K}, got {k!r}")
    return k


RecallK = Annotated[int, Field(ge=1, le=MAX_K), BeforeValidator(lambda k: check_k(k))]
"""A pydantic field type for a recall's k: the core's rule (`check_k`, its message), its bounds
in the JSON schema; for the integrations' settings, so no surface has a range of its own."""

CheckedId = Annotated[str, BeforeValidator(lambda v, info: check_id(v, info.field_name))]
"""A pydantic field type for a user/agent/session id: the core's one id rule (`check_id`)."""


def message_item(message: Any, n: int) -> MemoryItem:
    """One chat message (a dict with content or text) as a MemoryItem, its speaker prefixed."""
    if not isinstance(message, dict):
        raise InvalidInputError(f"message {n} must be a dict with 'content', got {message!r}")
    content = message.get("content", message.get("text"))
    if content is None:
        raise InvalidInputError(f"message {n} has no 'content' (or 'text')")
    content = check_text(content, math.inf, f"message {n} content")  # the store checks the size
    for field in ("name", "speaker", "role"):  # a speaker that is no text would be dropped
        if message.get(field) is not None:
            check_text(message[field], 256, f"message {n} {field}")
    who = speaker_of(message)
    metadata = {k: v for k, v in message.items() if k not in ("content", "text")}
    return unchecked_item(
        f"{who}: {content}" if who else content, check_metadata(metadata, f"message {n}")
    )


def unchecked_item(text: Any, metadata: dict[str, Any] | None = None) -> MemoryItem:
    """A MemoryItem of a text the store checks itself. Every list field is given: for a field
    left to its default factory, pydantic's `model_construct` inspects the factory's signature
    on each call (~0.4 ms, more than the rest of a remember's bookkeeping)."""
    given = {"text"} | ({"metadata"} if metadata is not None else set())
    return MemoryItem.model_construct(given, text=text, evidence=[], metadata=metadata or {})


def optional_id(value: Any, what: str) -> str | None:
    return None if value is None else check_id(value, what)


_NUMERIC_DATE = re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b")


def time_range_of(value: Any, now: datetime | None) -> TimeRange | None:
    """A TimeRange, a (start, end) pair, or a phrase such as "last week" or "in May"."""
    if value is None or isinstance(value, TimeRange):
        return check_time_range(value)
    if isinstance(value, str):
        for date in _NUMERIC_DATE.findall(value):  # "2024-13-45" must not fall back to 2024
            parse_when(date)
        resolved = query_time_range(value, parse_when(now) if now else datetime.now())
        if resolved is None:
            raise InvalidInputError(f"time_range {value!r} names no date or period")
        return resolved
    if isinstance(value, tuple | list) and len(value) == 2:
        start, end = (parse_when(v) if v is not None else None for v in value)
        return check_time_range(TimeRange(start=start, end=end))
    raise InvalidInputError(f"time_range must be a TimeRange, (start, end) or phrase: {value!r}")


def recalled_ids(recalled: object) -> tuple[list[str], set[str]]:
    """The engram ids of recalled hits or ids (each once, in order), and the tags the hits
    matched (words the query brought, which a reply repeating them did not take from memory)."""
    if isinstance(recalled, str | bytes) or not isinstance(recalled, Iterable):
        raise InvalidInputError(
            f"recalled must be a list of RecallHits or engram ids, got {type(recalled).__name__}"
        )
    ids: list[str] = []
    known: set[str] = set()
    for n, item in enumerate(recalled):
        if isinstance(item, RecallHit):
            ids.append(item.engram.id)
            known |= set(item.matched_tags)
        elif isinstance(item, str):
            ids.append(check_id(item, "engram_id"))
        else:
            raise InvalidInputError(
                f"recalled[{n}] must be a RecallHit or an engram id, got {type(item).__name__}"
            )
    return list(dict.fromkeys(ids)), known
