"""`RemoteMemory` keeps step with `EngramMemory`: every public verb (and async twin) has the same
parameters, kinds and defaults in both, and the remote client defines each itself (an inherited
local verb would reach for a `store` the client does not have). A verb gaining an argument on
one side only fails here, not in a user's agent."""

from __future__ import annotations

import inspect

import pytest

from engram_agents import EngramMemory
from engram_agents.remote import RemoteMemory


def public_verbs(cls: type) -> list[str]:
    """Public instance methods (constructors such as `remote` and `chroma` are not verbs)."""
    return sorted(
        name
        for name, value in inspect.getmembers(cls)
        if not name.startswith("_")
        and inspect.isfunction(value)
        and not isinstance(inspect.getattr_static(cls, name), staticmethod | classmethod)
    )


def parameters(cls: type, name: str) -> list[tuple[str, object, object]]:
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(getattr(cls, name)).parameters.values()
    ]


VERBS = public_verbs(EngramMemory)


def test_both_have_the_same_verbs():
    assert "recall" in VERBS and "arecall" in VERBS and "attach_model" in VERBS
    assert public_verbs(RemoteMemory) == VERBS


@pytest.mark.parametrize("name", VERBS)
def test_a_verb_takes_the_same_arguments_in_both(name):
    assert parameters(RemoteMemory, name) == parameters(EngramMemory, name)
    assert name in vars(RemoteMemory), f"RemoteMemory inherits {name} from the local memory"


@pytest.mark.parametrize("name", [v for v in VERBS if f"a{v}" in VERBS])
def test_an_async_twin_takes_its_verbs_arguments(name):
    for cls in (EngramMemory, RemoteMemory):
        assert inspect.iscoroutinefunction(getattr(cls, f"a{name}"))
        assert parameters(cls, f"a{name}") == parameters(cls, name)
