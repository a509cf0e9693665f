"""`RemoteMemory` keeps step with `EngramMemory`: every public verb (and async twin) has the same
parameters, kinds and defaults in both, and the remote client defines each itself (an inherited
local verb would reach for a `store` the client does not have). A verb gaining an argument on
one side only fails here, not in a user's agent."""

from __future__ import annotations

import inspect
import pydoc

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


def test_help_shows_the_local_verbs_parameters_and_docstring():
    """`mirrors` writes the parameters once, on EngramMemory: help() and IDEs read them (and the
    docstring) on the remote verb through `__signature__` and `__wrapped__`."""
    remote, local = RemoteMemory.recall, EngramMemory.recall
    assert remote.__wrapped__ is local and remote.__doc__ == local.__doc__
    assert remote.__qualname__ == "RemoteMemory.recall"
    shown = pydoc.render_doc(remote, renderer=pydoc.plaintext)
    assert "query: 'str', user_id: 'str', k: 'int' = 10, *, filters:" in shown
    assert "Best-first engrams for the query" in shown


def test_a_wrong_keyword_fails_before_any_request():
    memory = RemoteMemory("http://127.0.0.1:9")  # nothing listens: a request would fail
    with pytest.raises(TypeError, match="unexpected keyword argument 'kk'"):
        memory.recall("q", "ana", kk=3)
    memory.close()
