"""Fixtures: a fast hashing encoder for most tests, the real MiniLM loaded once per session, and
one backend-agnostic `make_memory` factory parametrized over SQLite, local Chroma and a Chroma
server started on 127.0.0.1 for the session."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from local_servers import free_port, start_chroma

from engram_agents.memory import EngramMemory
from engram_agents.store.encoders import HashingEncoder, default_encoder


@pytest.fixture(scope="session")
def hashing() -> HashingEncoder:
    return HashingEncoder(dim=256)


@pytest.fixture(scope="session")
def minilm():
    return default_encoder()


@pytest.fixture
def chroma_launcher() -> tuple[Callable[[Path, int], subprocess.Popen], Callable[[], int]]:
    """(start_chroma, free_port) for tests that stop and restart their own server."""
    return start_chroma, free_port


MakeMemory = Callable[..., EngramMemory]


@pytest.fixture(params=["sqlite", "chroma-local", "chroma-server"])
def make_memory(request: pytest.FixtureRequest, tmp_path: Path, hashing) -> Iterator[MakeMemory]:
    """Open (or reopen) one store on the parametrized backend; same arguments, same store.

    Every memory it opened is closed when the test ends, while the session's Chroma server still
    runs: one left open would flush its buffered recalls at exit, to a server already stopped."""
    kind = request.param
    collection = f"t{uuid.uuid4().hex[:12]}"

    def open_(**kwargs) -> EngramMemory:
        kwargs.setdefault("encoder", hashing)
        if kind == "sqlite":
            return EngramMemory(tmp_path / "memory.db", **kwargs)
        if kind == "chroma-local":
            return EngramMemory.chroma(tmp_path / "chroma", collection=collection, **kwargs)
        port = request.getfixturevalue("chroma_server")
        return EngramMemory.chroma(host="127.0.0.1", port=port, collection=collection, **kwargs)

    with ExitStack() as opened:

        def make(**kwargs) -> EngramMemory:
            memory = open_(**kwargs)
            opened.callback(memory.close)
            return memory

        make.kind = kind  # type: ignore[attr-defined]
        yield make


@pytest.fixture
def memory(tmp_path: Path, hashing) -> Iterator[EngramMemory]:
    """A SQLite-backed memory for tests that do not depend on the backend."""
    with EngramMemory(tmp_path / "memory.db", encoder=hashing) as m:
        yield m
