"""Input checks shared by every entry point: they run before any write, so bad input never leaves
a partial change behind."""

from __future__ import annotations

from engram_agents.ids import check_id
from engram_agents.store.errors import InvalidInputError

__all__ = ["check_id", "check_k", "check_text"]


def check_text(value: object, max_bytes: int, what: str = "text") -> str:
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


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 1000:
        raise InvalidInputError(f"k must be an integer between 1 and 1000, got {k!r}")
    return k
