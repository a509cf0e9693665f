"""An episodic store on the fast hashing encoder (no model download), in this process and on a
server."""

from __future__ import annotations

import pytest

from engram_agents import EngramMemory as CoreMemory
from engram_agents.store.encoders import HashingEncoder


@pytest.fixture(scope="session")
def encoder() -> HashingEncoder:
    return HashingEncoder(dim=256)


@pytest.fixture
def store(local_and_remote: CoreMemory) -> CoreMemory:
    """In this process, then on a server (see tests/conftest.py)."""
    return local_and_remote
