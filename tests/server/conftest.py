"""A real server on 127.0.0.1: uvicorn in a thread over a SQLite store with the hashing encoder
(fast, deterministic), with a key file holding keys of two tenants; and `serve` as a subprocess
for the command-line and multi-process tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from local_servers import free_port, launch, running, stop

from engram_agents.memory import EngramMemory
from engram_agents.server import KeyStore, create_app
from engram_agents.store.encoders import HashingEncoder


@dataclass
class Server:
    url: str
    memory: EngramMemory
    keys: KeyStore
    acme: str  # a key of tenant "acme", all of its users
    globex: str  # a key of tenant "globex", all of its users
    acme_alice: str  # a key of tenant "acme" that may touch only "alice"

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


MAX_BODY = 256 * 1024


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    memory = EngramMemory(tmp_path / "memory.db", encoder=HashingEncoder(256))
    keys = KeyStore(tmp_path / "keys.db")
    app = create_app(memory, keys, max_body_bytes=MAX_BODY)
    with running(app, free_port()) as url:
        yield Server(
            url=url,
            memory=memory,
            keys=keys,
            acme=keys.create("acme"),
            globex=keys.create("globex"),
            acme_alice=keys.create("acme", ["alice"]),
        )
    memory.close()


@pytest.fixture
def serve_app() -> Iterator[Callable[..., str]]:
    """Serve another app (say, `create_app` without keys) on a free loopback port; its URL."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(running(app, free_port()))


@pytest.fixture
def acme(server: Server) -> Iterator[httpx.Client]:
    with server.client(server.acme) as client:
        yield client


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess]:
    """`engram-agents ARGS` the way users run it (in a subprocess)."""

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "engram_agents.cli", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    return run


@pytest.fixture
def serve_process() -> Iterator[Callable[..., str]]:
    """Start `engram-agents serve ARGS` on a free loopback port; returns its URL once healthy."""
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> str:
        port = free_port()
        command = [sys.executable, "-m", "engram_agents.cli", "serve", "--port", str(port)]
        procs.append(launch([*command, *args], f"http://127.0.0.1:{port}/healthz"))
        return f"http://127.0.0.1:{port}"

    yield start
    stop(procs)
