"""The one rule for ids (user, agent, session, engram) that every entry point checks, the
episodic store and the model's per-user memory alike: a user the store accepts is one the model
can memorize for, and the other way round."""

from __future__ import annotations

from engram_agents.errors import InvalidInputError

MAX_ID_CHARS = 256


def check_id(value: object, what: str = "user_id") -> str:
    """`value` if it is a non-empty string of at most MAX_ID_CHARS characters and no NUL, else
    an InvalidInputError naming `what`."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_ID_CHARS:
        raise InvalidInputError(f"{what} is longer than {MAX_ID_CHARS} characters")
    if "\x00" in value:
        raise InvalidInputError(f"{what} contains a NUL character")
    return value
