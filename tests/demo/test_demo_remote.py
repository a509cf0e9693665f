"""`engram-agents demo ... --memory-url URL`: the demo's episodic store on a real
`engram-agents serve` process (started here, with a key file), the demo itself in a subprocess
the way users run it, on the small scenario with a tiny model (no training: none and episodic)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from local_servers import free_port, launch, stop

from engram_agents import EngramMemory

MINI = Path(__file__).with_name("mini.json")
ENGRAM_AGENTS = [sys.executable, "-m", "engram_agents.cli"]


@pytest.fixture
def served(tmp_path):
    """(URL, key of tenant "demo") of `engram-agents serve` on a free loopback port."""
    from engram_agents.server import KeyStore

    key = KeyStore(tmp_path / "keys.db").create("demo")
    port = free_port()
    serve = ["serve", "--db", str(tmp_path / "server.db"), "--encoder", "hashing"]
    serve += ["--keys", str(tmp_path / "keys.db"), "--port", str(port)]
    server = launch([*ENGRAM_AGENTS, *serve], f"http://127.0.0.1:{port}/healthz")
    yield f"http://127.0.0.1:{port}", key
    stop([server])


def demo(url: str, key: str, out: Path, *modes: str, model: Path) -> subprocess.CompletedProcess:
    argv = [*ENGRAM_AGENTS, "demo", str(MINI), "--mode", *modes, "--memory-url", url]
    argv += ["--model", str(model), "--max-new-tokens", "4", "--turn-tokens", "4"]
    env = {**os.environ, "ENGRAM_API_KEY": key, "OMP_NUM_THREADS": "1"}  # the key, not argv
    return subprocess.run(
        [*argv, "--out", str(out), "--json"], capture_output=True, text=True, env=env, timeout=900
    )


def test_the_demo_keeps_its_episodic_store_on_the_server(served, tmp_path, tiny_dirs):
    url, key = served
    with EngramMemory.remote(url, api_key=key) as remote:
        remote.remember("A memory of an earlier run", "tess")  # the demo starts from empty

        done = demo(url, key, tmp_path / "out", "none", "episodic", model=tiny_dirs["llama"])
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        episodic = result["modes"]["episodic"]
        assert episodic["evidence_recall"] > 0 and result["modes"]["none"]["evidence_recall"] == 0
        assert episodic["memory_bytes"] > 0  # the size of the user's export from the server
        # what tess told the agent is on the server, under the key's tenant
        said = {e.content for e in remote.list("tess", include_superseded=True)}
        assert "My dentist appointment is on Tuesday at 3 pm." in said
        assert "The dentist called: my appointment moved to Friday at 10 am." in said
        assert "A memory of an earlier run" not in said


def test_modes_that_would_share_the_servers_store_are_refused(served, tmp_path, tiny_dirs):
    url, key = served
    done = demo(url, key, tmp_path / "out", "episodic", "hybrid", model=tiny_dirs["llama"])
    assert done.returncode == 2
    assert "run one of episodic, in_model at a time" in done.stderr
    with EngramMemory.remote(url, api_key=key) as remote:
        assert remote.list("tess") == []
