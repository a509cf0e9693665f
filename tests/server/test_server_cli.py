"""`engram-agents keys` and `serve` the way users run them: subprocesses on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import httpx
import pytest

from engram_agents import EngramMemory
from engram_agents.server import KeyStore
from langchain_engram import EngramStore
from langchain_engram.stores import ITEM_CONFIG


def test_keys_create_list_revoke(cli, tmp_path):
    keys = str(tmp_path / "keys.db")
    made = cli(
        "keys", "create", "--keys", keys, "--tenant", "acme", "--user", "alice", "--name", "ci"
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("ek_")
    listed = [json.loads(line) for line in cli("keys", "list", "--keys", keys).stdout.splitlines()]
    assert [(k["tenant"], k["users"], k["name"], k["revoked_at"]) for k in listed] == [
        ("acme", ["alice"], "ci", None)
    ]
    assert key.split("_", 2)[2] not in json.dumps(listed)
    assert cli("keys", "revoke", "--keys", keys, listed[0]["id"]).returncode == 0
    assert json.loads(cli("keys", "list", "--keys", keys).stdout)["revoked_at"] is not None

    again = cli("keys", "revoke", "--keys", keys, listed[0]["id"])
    assert again.returncode == 2 and "no active key" in again.stderr
    bad = cli("keys", "create", "--keys", keys, "--tenant", "Acme Corp")
    assert bad.returncode == 2 and "tenant must be" in bad.stderr


def test_serve_refuses_a_public_address_without_keys(cli):
    refused = cli("serve", "--host", "0.0.0.0", "--port", "1")
    assert refused.returncode == 2
    assert "refusing to serve on 0.0.0.0 without --keys" in refused.stderr


def test_serve_config_sets_the_store_and_clients_read_it(cli, serve_process, tmp_path):
    items = tmp_path / "items.json"
    items.write_text(
        '{"dedup_window_s": 0, "supersede_similarity": 1.0, "supersede_keyword_overlap": 1.0}'
    )
    url = serve_process(
        "--db", str(tmp_path / "m.db"), "--encoder", "hashing", "--config", str(items)
    )
    with EngramMemory.remote(url) as remote:
        assert remote.config == ITEM_CONFIG  # the settings EngramStore needs, served
        store = EngramStore(memory=remote)
        store.put(("ana",), "a", {"text": "I like green tea"})
        store.put(("ana",), "b", {"text": "I like green tea"})  # kept apart: two items
        assert sorted(i.key for i in store.search(("ana",))) == ["a", "b"]
    typo = tmp_path / "typo.json"
    typo.write_text('{"dedup_windows": 0}')
    refused = cli("serve", "--db", str(tmp_path / "t.db"), "--config", str(typo), "--port", "1")
    assert refused.returncode != 0 and "unknown settings ['dedup_windows']" in refused.stderr


@pytest.mark.parametrize("backend", ["sqlite", "chroma-server"])
def test_two_serve_processes_share_one_store(serve_process, tmp_path, request, backend):
    """Two `serve` processes (as behind a load balancer) over one SQLite file or one Chroma
    server: each sees the other's writes, and a revoked key stops working in both."""
    keys = str(tmp_path / "keys.db")
    key = KeyStore(keys).create("acme")
    if backend == "sqlite":
        store = ["--db", str(tmp_path / "memory.db")]
    else:
        port = request.getfixturevalue("chroma_server")
        store = ["--chroma-host", "127.0.0.1", "--chroma-port", str(port)]
        store += ["--chroma-collection", f"serve{uuid.uuid4().hex[:12]}"]
    first, second = (serve_process(*store, "--keys", keys, "--encoder", "hashing") for _ in "ab")
    auth = {"Authorization": f"Bearer {key}"}
    a = httpx.Client(base_url=first, headers=auth, timeout=30)
    b = httpx.Client(base_url=second, headers=auth, timeout=30)

    written = a.post("/v1/users/alice/memories", json={"content": "My dog is called Pixel"})
    assert written.status_code == 201
    assert b.get(f"/v1/users/alice/memories/{written.json()['id']}").status_code == 200
    b.post("/v1/users/alice/memories", json={"content": "The dentist is on Tuesday"})
    hits = a.post("/v1/users/alice/recall", json={"query": "dentist", "k": 1}).json()
    assert hits[0]["engram"]["text"] == "The dentist is on Tuesday"
    assert len(a.get("/v1/users/alice/memories").json()) == 2

    KeyStore(keys).revoke(key.split("_")[1])  # both processes read the key file afresh
    assert a.get("/v1/users/alice/memories").status_code == 401
    assert b.get("/v1/users/alice/memories").status_code == 401


def test_serve_workers_share_the_port_the_store_and_the_keys(serve_process, tmp_path, cli):
    """`serve --workers 2`: requests spread over two processes (separate connections) see one
    store, and a revoked key stops working in every process."""
    keys = str(tmp_path / "keys.db")
    key = KeyStore(keys).create("acme")
    url = serve_process("--db", str(tmp_path / "m.db"), "--keys", keys, "--workers", "2")
    auth = {"Authorization": f"Bearer {key}"}
    written = []
    for n in range(8):  # a new connection each: the kernel spreads them over the workers
        response = httpx.post(f"{url}/v1/users/alice/memories", headers=auth, json={
            "content": f"Note {n}: {['dog', 'tea', 'flight', 'guitar'][n % 4]} {n}"})  # fmt: skip
        assert response.status_code == 201
        written.append(response.json()["id"])
    for _ in range(4):
        everything = {"include_superseded": "true"}
        listed = httpx.get(f"{url}/v1/users/alice/memories", headers=auth, params=everything)
        listed = listed.json()
        assert sorted(e["id"] for e in listed) == sorted(written)
    KeyStore(keys).revoke(key.split("_")[1])
    for _ in range(8):
        assert httpx.get(f"{url}/v1/users/alice/memories", headers=auth).status_code == 401
    refused = cli("serve", "--db", str(tmp_path / "m.db"), "--workers", "2", "--model", "x")
    assert refused.returncode == 2 and "--workers" in refused.stderr
    refused = cli("serve", "--db", str(tmp_path / "m.db"), "--write-patience", "-1")
    assert refused.returncode == 2 and "write patience must be between 0 and 60" in refused.stderr


def test_server_commands_without_the_extra_say_how_to_install_it():
    blocked = (
        "import sys; sys.modules['fastapi'] = None; from engram_agents.cli import main; "
        "sys.exit(main(['serve', '--port', '1']))"
    )
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True)
    assert done.returncode == 2
    assert "pip install 'engram-agents[server]'" in done.stderr


def test_serve_with_a_model_shows_the_users_engram_facts(serve_process, tiny_dirs, tmp_path):
    """`serve --model FOLDER` loads an EngramLM: the console lists what a user memorized."""
    from engram_agents.lm import EngramLM
    from engram_agents.model.memorize import TrainConfig

    storage = tmp_path / "deltas"
    lm = EngramLM.from_pretrained(tiny_dirs["llama"], storage_dir=storage)
    quick = TrainConfig(epochs=2, batch_size=8, min_steps=1)
    lm.memorize([("Where does Ana live?", "in Lisbon")], "ana", train_config=quick)
    url = serve_process(
        "--db", str(tmp_path / "m.db"), "--encoder", "hashing",
        "--model", str(tiny_dirs["llama"]), "--model-storage", str(storage),
    )  # fmt: skip
    with httpx.Client(base_url=url, timeout=60) as client:
        client.post("/console/sign-in")
        page = client.get("/console/users/ana").text
    assert "<strong>Where does Ana live?</strong> → in Lisbon" in page
    assert "No model loaded" not in page


def test_the_served_app_leaves_startup_objects_out_of_full_collections(tmp_path):
    """A served process freezes what startup built (a full GC pass over it stalled every
    request for ~200 ms) and hands the GIL over every millisecond (docs/server.md)."""
    script = f"""
import argparse, gc, sys
from engram_agents.server import cli
parser = argparse.ArgumentParser()
cli.add_parsers(parser.add_subparsers(dest="command"))
args = parser.parse_args(["serve", "--db", {str(tmp_path / "e.db")!r}, "--encoder", "hashing"])
before = gc.get_freeze_count()
app = cli._app(args)
print(before, gc.get_freeze_count(), sys.getswitchinterval())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    before, frozen, interval = done.stdout.split()
    assert int(before) == 0 and int(frozen) > 10_000
    assert float(interval) == pytest.approx(0.001)
