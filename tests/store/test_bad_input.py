"""Bad input and faults: clear errors naming the problem, and nothing already stored is lost."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.errors import BackendUnavailableError, InvalidInputError


def _snapshot(mem: EngramMemory) -> list[tuple[str, str]]:
    return [(e.id, e.text) for e in mem.list("u")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("   \n\t", "empty"),
        ("x" * 1_000_001, "limit is 1000000 bytes"),
        (b"caf\xc3", "not valid UTF-8"),
        ("bad \udc80 surrogate", "not valid UTF-8"),
        (42, "must be a (non-empty )?string"),
    ],
)
def test_bad_text_is_refused_and_nothing_changes(memory, content, message):
    memory.remember("a fact that must survive", "u")
    before = _snapshot(memory)
    with pytest.raises(InvalidInputError, match=message):
        memory.remember(content, "u")
    with pytest.raises(InvalidInputError, match=message):
        memory.remember_many(["a fine item", content], "u")  # all or nothing
    assert _snapshot(memory) == before


def test_bad_query_user_and_k(memory):
    with pytest.raises(InvalidInputError, match="query is empty"):
        memory.recall("  ", "u")
    with pytest.raises(InvalidInputError, match="user_id"):
        memory.recall("hello", "")
    with pytest.raises(InvalidInputError, match="k must be"):
        memory.recall("hello", "u", k=0)
    with pytest.raises(InvalidInputError, match="names no date"):
        memory.recall("hello", "u", time_range="whenever")


class BadEncoder:
    def __init__(self, mode: str) -> None:
        self.mode, self.dim, self.name = mode, 8, f"bad-{mode}"

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.mode == "dim":
            return np.ones((len(texts), 5), dtype=np.float32)
        out = np.ones((len(texts), 8), dtype=np.float32)
        if self.mode == "nan":
            out[-1, 0] = np.nan
        return out


@pytest.mark.parametrize(("mode", "message"), [("dim", "shape"), ("nan", "NaN")])
def test_bad_vectors_from_custom_encoder(tmp_path, mode, message):
    good = EngramMemory(tmp_path / "m.db", encoder=BadEncoder("ok"))
    good.remember("kept", "u")
    bad = EngramMemory(tmp_path / "m.db", encoder=BadEncoder(mode))
    with pytest.raises(InvalidInputError, match=message):
        bad.remember("lost?", "u")
    assert [e.text for e in good.list("u")] == ["kept"]


def test_corrupt_database_file(tmp_path, hashing):
    path = tmp_path / "m.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackendUnavailableError, match="corrupt or not an SQLite database"):
        EngramMemory(path, encoder=hashing)


def test_locked_database_fails_clearly_and_keeps_data(tmp_path, hashing):
    from engram_agents.store.backends.sqlite import SQLiteBackend

    path = tmp_path / "m.db"
    mem = EngramMemory(backend=SQLiteBackend(path, timeout_s=0.2), encoder=hashing)
    mem.remember("before the lock", "u")
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(BackendUnavailableError, match="locked"):
            mem.remember("during the lock", "u")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert [e.text for e in mem.list("u")] == ["before the lock"]


def test_chroma_server_down(hashing):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendUnavailableError, match=f"127.0.0.1:{port}"):
        EngramMemory.chroma(host="127.0.0.1", port=port, encoder=hashing)


def test_encoder_object_without_methods_is_named(tmp_path):
    with pytest.raises(InvalidInputError, match="embed_documents"):
        EngramMemory(tmp_path / "m.db", encoder=object())
