"""Tiny randomly initialized models sharing the embedded model's tokenizer (no downloads).

Kernel tests run every Triton kernel on CPU tensors under the Triton interpreter. Its switch,
TRITON_INTERPRET, is read when the kernel modules are imported (by engram_agents below, too), so
it is set here, before any import of them.
"""

import importlib.util
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest
import torch
from local_servers import free_port, running, start_chroma, stop
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    LlamaConfig,
    Qwen2Config,
)

from engram_agents import EngramConfig, EngramLM, EngramMemory
from engram_agents.model.loading import default_model_dir

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
SMALL = EngramConfig(rows_per_head=4099, heads_per_order=2, head_dim=8, layers=(1, 2))


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Port of a `chroma run` server on 127.0.0.1 for the whole session (the store's and the
    server's tests each use collections of their own on it)."""
    port = free_port()
    proc = start_chroma(tmp_path_factory.mktemp("chroma-server"), port)
    try:
        yield port
    finally:
        stop([proc])


@pytest.fixture(scope="session")
def engram_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., tuple]]:
    """`serve(config)`: (URL, KeyStore) of a real `engram-agents` server on 127.0.0.1 over a
    SQLite store with the hashing encoder, one per store config, started on first use and kept
    for the session (tests keep apart as tenants of their own, see `connect_remote`)."""
    from engram_agents.server import KeyStore, create_app
    from engram_agents.store.encoders import HashingEncoder

    encoder = HashingEncoder(256)
    started: dict[str, tuple[str, KeyStore]] = {}
    with ExitStack() as stack:

        def serve(config=None) -> tuple[str, KeyStore]:
            name = config.model_dump_json() if config is not None else ""
            if name not in started:
                root = tmp_path_factory.mktemp("engram-server")
                memory = EngramMemory(root / "memory.db", encoder=encoder, config=config)
                stack.callback(memory.close)
                keys = KeyStore(root / "keys.db")
                url = stack.enter_context(running(create_app(memory, keys), free_port()))
                started[name] = (url, keys)
            return started[name]

        yield serve


@pytest.fixture
def connect_remote(engram_servers) -> Iterator[Callable[..., EngramMemory]]:
    """`connect(config=None)`: `EngramMemory.remote` to a served store with that config, as a new
    tenant, so the test starts with no memories and sees no other test's."""
    with ExitStack() as stack:

        def connect(config=None) -> EngramMemory:
            url, keys = engram_servers(config)
            key = keys.create(f"t{secrets.token_hex(6)}")
            return stack.enter_context(EngramMemory.remote(url, api_key=key))

        yield connect


@pytest.fixture(params=["local", "remote"])
def local_and_remote(request, tmp_path: Path) -> Iterator[EngramMemory]:
    """A memory in this process (SQLite, hashing encoder), then the same through
    `EngramMemory.remote` to a real server on 127.0.0.1: integration tests taking it run
    unchanged against both. Heavy tests run on the local one only."""
    if request.param == "remote":
        if request.node.get_closest_marker("heavy"):
            pytest.skip("heavy tests run on the local memory; the light ones cover the server")
        yield request.getfixturevalue("connect_remote")()
        return
    from engram_agents.store.encoders import HashingEncoder

    with EngramMemory(tmp_path / "memory.db", encoder=HashingEncoder(dim=256)) as memory:
        yield memory


@pytest.fixture(scope="session")
def load_benchmark():
    """Imports a script of benchmarks/ by name (they are scripts, not a package)."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"{name}_bench", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def tokenizer_dir():
    return default_model_dir()


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir):
    return AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)


def _tiny(kind: str, vocab: int):
    common = dict(vocab_size=vocab, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    if kind in ("llama", "qwen2"):
        return {"llama": LlamaConfig, "qwen2": Qwen2Config}[kind](
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            **common,
        )
    return GPT2Config(n_embd=64, n_layer=4, n_head=4, n_positions=512, **common)


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory, tokenizer):
    torch.manual_seed(0)
    out = {}
    for kind in ("llama", "qwen2", "gpt2"):
        d = tmp_path_factory.mktemp(f"tiny-{kind}")
        model = AutoModelForCausalLM.from_config(_tiny(kind, len(tokenizer)))
        model.save_pretrained(d)
        tokenizer.save_pretrained(d)
        out[kind] = d
    return out


@pytest.fixture
def small_config():
    return SMALL


@pytest.fixture
def tiny_lm(tiny_dirs, tmp_path):
    return EngramLM.from_pretrained(tiny_dirs["llama"], config=SMALL, storage_dir=tmp_path)
