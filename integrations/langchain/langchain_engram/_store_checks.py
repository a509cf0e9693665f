"""EngramStore's argument checks for what LangGraph's ops carry (namespaces, keys, pages, TTLs,
index paths); values and text go through the core's own rules."""

from __future__ import annotations

import math

from langgraph.store.base import InvalidNamespaceError

from engram_agents import InvalidInputError
from engram_agents.chat import check_text


class InvalidNamespace(InvalidInputError, InvalidNamespaceError):
    """A namespace EngramStore cannot use. Ours (InvalidInputError) and LangGraph's
    (InvalidNamespaceError, which its BaseStore contract raises for bad namespaces) at once."""


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def namespace(value: object, what: str = "namespace") -> tuple[str, ...]:
    """A tuple of non-empty strings (a str would be split into one label per character)."""
    if not isinstance(value, tuple) or not all(
        isinstance(n, str) and n and "\x00" not in n for n in value
    ):
        raise InvalidNamespace(
            f"a {what} is a tuple of non-empty strings without NUL, got {value!r}"
        )
    return value


def key(value: object) -> str:
    return check_text(value, math.inf, "key")


def page(limit: object, offset: object) -> None:
    for name, value in (("limit", limit), ("offset", offset)):
        if not _whole(value) or value < 0:
            raise InvalidInputError(f"{name} must be an integer >= 0, got {value!r}")


def max_depth(value: object) -> None:
    if value is not None and (not _whole(value) or value < 1):
        raise InvalidInputError(f"max_depth must be an integer >= 1, got {value!r}")


def ttl(value: object) -> None:
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidInputError(f"ttl must be a positive number of minutes, got {value!r}")


def index(value: object) -> None:
    if value not in (None, False) and (
        not isinstance(value, list) or not all(isinstance(f, str) and f.strip() for f in value)
    ):
        raise InvalidInputError(
            f"index must be False, None or a list of field paths, got {value!r}"
        )
