"""`engram-agents demo ... --memory-url URL`: the demo's episodic stores on a real
`engram-agents serve` process (started here, with a key file), one server-side user per store,
the demo itself in a subprocess the way users run it, on the small scenario with a tiny model
(the modes that train into the weights with a short training: --memorize-epochs 1)."""

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


def demo(
    url: str, key: str, out: Path, *modes: str, model: Path, framework: str = "langchain"
) -> subprocess.CompletedProcess:
    argv = [*ENGRAM_AGENTS, "demo", str(MINI), "--mode", *modes, "--memory-url", url]
    argv += ["--framework", framework]
    argv += ["--model", str(model), "--max-new-tokens", "4", "--turn-tokens", "4"]
    argv += ["--memorize-epochs", "1"]
    env = {**os.environ, "ENGRAM_API_KEY": key, "OMP_NUM_THREADS": "1"}  # the key, not argv
    return subprocess.run(
        [*argv, "--out", str(out), "--json"], capture_output=True, text=True, env=env, timeout=900
    )


def test_the_demo_keeps_its_episodic_store_on_the_server(served, tmp_path, tiny_dirs):
    url, key = served
    with EngramMemory.remote(url, api_key=key) as remote:
        remote.remember("A memory of an earlier run", "tess.episodic")  # the demo starts empty

        done = demo(url, key, tmp_path / "out", "none", "episodic", model=tiny_dirs["llama"])
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        episodic = result["modes"]["episodic"]
        assert episodic["evidence_recall"] > 0 and result["modes"]["none"]["evidence_recall"] == 0
        assert episodic["memory_bytes"] > 0  # the size of the user's export from the server
        # what tess told the agent is on the server, under the key's tenant
        said = {e.content for e in remote.list("tess.episodic", include_superseded=True)}
        assert "My dentist appointment is on Tuesday at 3 pm." in said
        assert "The dentist called: my appointment moved to Friday at 10 am." in said
        assert "A memory of an earlier run" not in said
        assert remote.list("tess") == []


def test_every_mode_runs_on_one_server_each_store_a_user_of_its_own(served, tmp_path, tiny_dirs):
    """All modes at once (rag + hybrid, episodic + in_model + hybrid included): hybrid's store
    and the "weights" store the in-weights modes consolidate into the model stay apart."""
    url, key = served
    with EngramMemory.remote(url, api_key=key) as remote:
        for store in ("episodic", "hybrid", "weights"):
            remote.remember(f"A memory of an earlier run in {store}", f"tess.{store}")

        done = demo(url, key, tmp_path / "out", "all", model=tiny_dirs["llama"])
        assert done.returncode == 0, done.stderr[-3000:]
        modes = json.loads(done.stdout.strip().splitlines()[-1])["modes"]
        assert list(modes) == ["none", "rag", "episodic", "in_model", "hybrid"]
        for mode in ("rag", "episodic", "hybrid"):
            assert modes[mode]["evidence_recall"] > 0, mode
        for mode in ("episodic", "in_model", "hybrid"):
            assert modes[mode]["memory_bytes"] > 0, mode
        # each store's user holds what the agents of its modes were told, nothing older
        for store in ("episodic", "hybrid", "weights"):
            stored = remote.list(f"tess.{store}", include_superseded=True)
            said = " ".join(e.content for e in stored)
            assert "dentist appointment is on Tuesday" in said, store
            assert "earlier run" not in said, store
        assert remote.list("tess") == []  # the scenario user itself has no store on the server


def test_rag_and_hybrid_with_llama_index_on_a_server(served, tmp_path, tiny_dirs):
    url, key = served
    out = tmp_path / "out"
    done = demo(url, key, out, "rag", "hybrid", model=tiny_dirs["llama"], framework="llama-index")
    assert done.returncode == 0, done.stderr[-3000:]
    modes = json.loads(done.stdout.strip().splitlines()[-1])["modes"]
    assert modes["hybrid"]["evidence_recall"] > 0 and modes["hybrid"]["memory_bytes"] > 0
    with EngramMemory.remote(url, api_key=key) as remote:
        assert remote.list("tess.hybrid") and remote.list("tess.weights")
        assert remote.list("tess.episodic") == []  # no episodic mode ran


def test_a_key_without_a_stores_user_fails_first_naming_it(served, tmp_path, tiny_dirs):
    from engram_agents.server import KeyStore

    url, _ = served
    keys = KeyStore(tmp_path / "keys.db")  # the server's key file: a new key works at once
    narrow = keys.create("demo", ["tess.episodic", "tess.weights"])
    with EngramMemory.remote(url, api_key=narrow) as remote:
        remote.remember("Kept from before", "tess.weights")
        done = demo(url, narrow, tmp_path / "out", "in_model", "hybrid", model=tiny_dirs["llama"])
        assert done.returncode == 2, done.stderr[-3000:]
        assert "may not touch user 'tess.hybrid'" in done.stderr
        assert "--user tess.weights --user tess.hybrid" in done.stderr
        assert [e.content for e in remote.list("tess.weights")] == ["Kept from before"]
