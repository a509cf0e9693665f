"""Passing the KV cache to the installed transformers under its own name: `cache` in 5.2x
(where `past_key_values` is deprecated and due to go), `past_key_values` before."""

import inspect
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=32)
def _name(forward) -> str:
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def with_cache(module, cache: Any) -> dict[str, Any]:
    """Keyword arguments that make `module` (a transformers model) extend `cache`."""
    return {_name(type(module).forward): cache, "use_cache": True}


def cache_of(output) -> Any:
    """The KV cache a transformers model returned."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values
