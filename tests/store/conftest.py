"""Fixtures: a fast hashing encoder for most tests, the real MiniLM loaded once per session, and
one backend-agnostic `make_memory` factory parametrized over SQLite, local Chroma and a Chroma
server started on 127.0.0.1 for the session."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.encoders import HashingEncoder, default_encoder


@pytest.fixture(scope="session")
def hashing() -> HashingEncoder:
    return HashingEncoder(dim=256)


@pytest.fixture(scope="session")
def minilm():
    return default_encoder()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma run exited early with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("chroma run did not answer its heartbeat in time")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Port of a `chroma run` server on 127.0.0.1, stopped after the session."""
    exe = shutil.which("chroma")
    if exe is None:
        pytest.skip("the `chroma` CLI is not installed, so the Chroma server tests cannot run")
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


MakeMemory = Callable[..., EngramMemory]


@pytest.fixture(params=["sqlite", "chroma-local", "chroma-server"])
def make_memory(request: pytest.FixtureRequest, tmp_path: Path, hashing) -> MakeMemory:
    """Open (or reopen) one store on the parametrized backend; same arguments, same store."""
    kind = request.param
    collection = f"t{uuid.uuid4().hex[:12]}"

    def make(**kwargs) -> EngramMemory:
        kwargs.setdefault("encoder", hashing)
        if kind == "sqlite":
            return EngramMemory(tmp_path / "memory.db", **kwargs)
        if kind == "chroma-local":
            return EngramMemory.chroma(tmp_path / "chroma", collection=collection, **kwargs)
        port = request.getfixturevalue("chroma_server")
        return EngramMemory.chroma(host="127.0.0.1", port=port, collection=collection, **kwargs)

    make.kind = kind  # type: ignore[attr-defined]
    return make


@pytest.fixture
def memory(tmp_path: Path, hashing) -> Iterator[EngramMemory]:
    """A SQLite-backed memory for tests that do not depend on the backend."""
    with EngramMemory(tmp_path / "memory.db", encoder=hashing) as m:
        yield m
