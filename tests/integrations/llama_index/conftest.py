"""An episodic store on the fast hashing encoder (no model download)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engram_agents import EngramMemory as CoreMemory
from engram_agents.store.encoders import HashingEncoder


@pytest.fixture(scope="session")
def encoder() -> HashingEncoder:
    return HashingEncoder(dim=256)


@pytest.fixture
def store(tmp_path: Path, encoder: HashingEncoder) -> Iterator[CoreMemory]:
    with CoreMemory(tmp_path / "memory.db", encoder=encoder) as s:
        yield s
