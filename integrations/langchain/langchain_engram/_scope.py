"""Whose memory a run uses: one rule for the middleware and the memory tools, so both read the
user from the same places (and never from what the model writes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.config import get_config

from engram_agents import InvalidInputError
from engram_agents.chat import check_id


def configurable() -> dict[str, Any]:
    """The run's `configurable` dict; empty outside a graph run."""
    try:
        return dict(get_config().get("configurable") or {})
    except RuntimeError:
        return {}


class NoUserError(InvalidInputError):
    """The run names no usable user: the developer's set-up, so the memory tools raise it
    instead of handing it to the model as a tool error it could not fix."""


def find_user(context: Any, fallback: str | None, owner: str) -> str:
    """The user id in the runtime context (`{"user_id": ...}` or an object with a `user_id`
    attribute), else in `config["configurable"]["user_id"]`, else `fallback`; `owner` names the
    class in the error raised when there is none."""
    if isinstance(context, Mapping):
        found = context.get("user_id")
    else:
        found = getattr(context, "user_id", None)
    found = found or configurable().get("user_id") or fallback
    if found is None or found == "":
        raise NoUserError(
            f"{owner} needs a user id: pass context={{'user_id': ...}}, "
            f"config={{'configurable': {{'user_id': ...}}}} or {owner}(user_id=...)"
        )
    try:
        return check_id(found)  # the core's one id rule, so the store never refuses it later
    except InvalidInputError as exc:
        raise NoUserError(str(exc)) from None
