"""Servers the tests start on 127.0.0.1: as processes (`chroma run`, `engram-agents serve`) with
a free port, a launch that returns once the server answers and a stop that cannot hang; and an
ASGI app served by uvicorn in a thread (`running`).

Imported by conftest files as `local_servers` (pytest puts tests/ on sys.path for the
top-level conftest.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(command: list[str], health_url: str, timeout: float = 120.0) -> subprocess.Popen:
    """Start `command` and return it once `health_url` answers 200. A server that exits first
    or does not answer in time is stopped, and the error quotes its stderr."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryFile() as log:  # not a pipe: a chatty server never blocks on it
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(health_url, timeout=1) as answer:
                    if answer.status == 200:
                        return proc
            except OSError:  # not listening yet, or not healthy yet (HTTPError)
                pass
            time.sleep(0.2)
        stop([proc])
        log.seek(0)
        said = log.read().decode(errors="replace")[-2000:]
    why = f"exited with {proc.returncode}" if proc.returncode else "did not answer in time"
    raise RuntimeError(f"{command[:4]} {why}: {said}")


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    """A `chroma run` server on 127.0.0.1:`port` storing in `path`, answering when returned."""
    exe = shutil.which("chroma")
    if exe is None:
        pytest.skip("the `chroma` CLI is not installed, so the Chroma server tests cannot run")
    command = [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    return launch(command, f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=60.0)


def stop(procs: Iterable[subprocess.Popen]) -> None:
    """Terminate each process; kill one that has not ended 20 s later."""
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def running(app, port: int) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on 127.0.0.1:`port`; yields its base URL."""
    import uvicorn  # the server extra; only the tests that serve need it

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
