"""How EngramStore keeps a LangGraph item in an engram (namespace, key, value, expiry in its
metadata) and LangGraph's filter and namespace-match semantics over those items."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.store.base import Item, MatchCondition, SearchItem
from langgraph.store.base.embed import get_text_at_path

from engram_agents import InvalidInputError
from engram_agents.chat import Engram

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


def now() -> datetime:
    return datetime.now(UTC)


def expiry(ttl: float | None) -> str | None:
    return None if ttl is None else (now() + timedelta(minutes=ttl)).isoformat()


def expired(engram: Engram) -> bool:
    expires = engram.metadata.extra.get("expires_at")
    return expires is not None and datetime.fromisoformat(expires) <= now()


def indexed(engram: Engram) -> bool:
    return engram.metadata.extra.get("indexed", True)


def index_text(value: dict[str, Any], index: Any, default: list[str] | None) -> str:
    """The text recall searches for an item: the indexed fields' text, else the value's
    top-level strings, else the whole value as JSON."""
    fields = default if index is None else (index or None)
    if fields:
        parts = [t for f in fields for t in get_text_at_path(value, f)]
    else:
        parts = [v for v in value.values() if isinstance(v, str)]
    text = "\n".join(p for p in parts if p.strip())
    return text or json.dumps(value, ensure_ascii=False, sort_keys=True)


def in_namespace(engram: Engram, prefix: tuple[str, ...], exact: bool = False) -> bool:
    namespace = tuple(engram.metadata.extra.get("namespace") or ())
    if "key" not in engram.metadata.extra or namespace[: len(prefix)] != prefix:
        return False
    return len(namespace) == len(prefix) if exact else True


def as_item(engram: Engram, **score: float | None) -> Item:
    """The engram as a LangGraph Item (a SearchItem when a `score` is given)."""
    extra = engram.metadata.extra
    updated = extra.get("updated_at")
    return (SearchItem if score else Item)(
        namespace=tuple(extra["namespace"]),
        key=extra["key"],
        value=extra["value"],
        created_at=engram.metadata.created_at,
        updated_at=datetime.fromisoformat(updated) if updated else engram.metadata.created_at,
        **score,
    )


def matches(value: Any, wanted: Any) -> bool:
    """LangGraph's filter semantics: equality (nested dicts recursively, lists element-wise),
    or a dict of $eq/$ne/$gt/$gte/$lt/$lte operators."""
    if isinstance(wanted, Mapping):
        if any(k.startswith("$") for k in wanted):
            return all(compare(value, op, arg) for op, arg in wanted.items())
        return isinstance(value, Mapping) and all(
            matches(value.get(k), v) for k, v in wanted.items()
        )
    if isinstance(wanted, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(wanted)
            and all(matches(v, w) for v, w in zip(value, wanted, strict=True))
        )
    return value == wanted


def check_filter(wanted: Any, where: str = "filter") -> None:
    """A search filter LangGraph can apply: a dict of values or operator dicts, each operator
    known and each ordering operator given a number (checked before the search reads)."""
    if where == "filter" and not isinstance(wanted, Mapping):
        raise InvalidInputError(f"filter must be a dict such as {{'kind': 'pet'}}, got {wanted!r}")
    if isinstance(wanted, Mapping):
        for key, arg in wanted.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"{where} has a non-string key {key!r}")
            if key.startswith("$") and key not in OPERATORS:
                raise InvalidInputError(
                    f"unsupported filter operator {key!r} in {where} (use one of {OPERATORS})"
                )
            ordering = key in OPERATORS[2:]
            if ordering and (isinstance(arg, bool) or not isinstance(arg, int | float)):
                raise InvalidInputError(f"{where}[{key!r}] must be a number, got {arg!r}")
            check_filter(arg, f"{where}[{key!r}]")
    elif isinstance(wanted, list | tuple):
        for n, arg in enumerate(wanted):
            check_filter(arg, f"{where}[{n}]")


def compare(value: Any, op: str, arg: Any) -> bool:
    if op in ("$eq", "$ne"):
        return (value == arg) == (op == "$eq")
    try:
        a, b = float(value), float(arg)
    except (TypeError, ValueError):  # a stored value that is no number is never in range
        return False
    return {"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op]


def namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if not path:
        return True
    if len(namespace) < len(path):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    return all(p in ("*", n) for p, n in zip(path, part, strict=True))
