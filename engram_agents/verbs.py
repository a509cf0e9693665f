"""How `EngramMemory`'s public verbs are wrapped, in one place: a pydantic error from our records
becomes our `InvalidInputError`, and each verb gets an async twin that runs the same code in a
worker thread, so the two can never drift apart."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from engram_agents.store.errors import InvalidInputError
from engram_agents.store.validation import describe

VERBS = (
    "remember", "remember_many", "recall", "get", "list", "export", "update", "delete",
    "forget", "feedback", "observe_reply", "consolidate", "verify_audit", "close",
    "set_consent", "consent", "erasures",
)  # fmt: skip


def _our_errors(verb: Callable[..., Any]) -> Callable[..., Any]:
    """A pydantic error from our records means the caller's input was bad: say so in our type."""

    @functools.wraps(verb)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return verb(*args, **kwargs)
        except ValidationError as exc:
            raise InvalidInputError(f"bad input to {verb.__name__}: {describe(exc)}") from exc

    return checked


def _async_twin(cls: type, name: str) -> Callable[..., Any]:
    async def twin(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self, name), *args, **kwargs)

    twin.__name__ = twin.__qualname__ = f"a{name}"
    twin.__doc__ = f"Async twin of `{name}` (same code, run in a worker thread)."
    twin.__signature__ = inspect.signature(getattr(cls, name))  # type: ignore[attr-defined]
    return twin


def wrap_verbs(cls: type) -> None:
    """Give every verb of `cls` our error type and an async twin (`recall` → `arecall`)."""
    for verb in VERBS:
        setattr(cls, verb, _our_errors(getattr(cls, verb)))
        setattr(cls, f"a{verb}", _async_twin(cls, verb))
