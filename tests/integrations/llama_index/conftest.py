"""An episodic store on the fast hashing encoder (no model download), in this process and on a
server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engram_agents import EngramMemory as CoreMemory
from engram_agents.store.encoders import HashingEncoder


@pytest.fixture(scope="session")
def encoder() -> HashingEncoder:
    return HashingEncoder(dim=256)


@pytest.fixture(params=["local", "remote"])
def store(request, tmp_path: Path, encoder: HashingEncoder) -> Iterator[CoreMemory]:
    """The memory in this process, and the same through `EngramMemory.remote` to a real server
    on 127.0.0.1: every integration test runs unchanged against both."""
    if request.param == "remote":
        if request.node.get_closest_marker("heavy"):
            pytest.skip("heavy tests run on the local memory; the light ones cover the server")
        yield request.getfixturevalue("connect_remote")()
        return
    with CoreMemory(tmp_path / "memory.db", encoder=encoder) as s:
        yield s
