"""`engram-agents serve | mcp | keys`. The parsers need nothing beyond the core; the commands
import the `server` extra when they run, and say how to install it when it is missing.
`add_parsers` is also an `engram_agents.commands` entry point (each command's `handler`)."""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any

from engram_agents.errors import InvalidInputError
from engram_agents.server.priority import DEFAULT_PATIENCE_S, checked_patience

COMMANDS = ("serve", "mcp", "keys")
_WORKER_ARGS = "ENGRAM_AGENTS_SERVE_ARGS"  # how `serve --workers N` hands its options to each
SWITCH_INTERVAL_S = 0.001  # `_serving_runtime`
INSTALL_HINT = "the server needs its extra: pip install 'engram-agents[server]'"


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="SQLite file of the memory (default: the user data folder)")
    parser.add_argument("--chroma-host", help="use a Chroma server at this host instead")
    parser.add_argument("--chroma-port", type=int, default=8000)
    parser.add_argument("--chroma-collection", default="engrams")
    parser.add_argument(
        "--config",
        help="a JSON file of store settings (StoreConfig fields, e.g. "
        "'{\"dedup_window_s\": 0}'); GET /v1/config shows them to clients",
    )
    parser.add_argument(
        "--encoder",
        help="a sentence-transformers model folder (default: the embedded MiniLM); "
        "'hashing' is a word-hashing encoder for tests only",
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="HTTP API and MCP endpoint over the memory")
    _store_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--keys", help="API key file (`keys create`); required off loopback")
    serve.add_argument("--max-body-bytes", type=int, default=8 * 1024 * 1024)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port and the store (each holds its own index and "
        "encoder; the SQLite store and its audit chain are safe across processes)",
    )
    serve.add_argument(
        "--write-patience",
        type=float,
        default=DEFAULT_PATIENCE_S,
        metavar="SECONDS",
        help="the longest a remember or update waits while recalls are in flight, so that "
        "recalls answer first under load (default: %(default)s; 0: no priority)",
    )
    serve.add_argument(
        "--model",
        help="load an EngramLM ('default': the embedded SmolLM2, or a Hugging Face model folder) "
        "so the console shows, and can forget, the facts in each user's Engram tables",
    )
    serve.add_argument(
        "--model-storage", help="the folder of the users' Engram deltas (default: user data)"
    )

    mcp = sub.add_parser("mcp", help="MCP server over stdio (for MCP hosts)")
    _store_options(mcp)
    mcp.add_argument("--user", help="serve only this user (the default user id of every tool)")

    keys = sub.add_parser("keys", help="create, list or revoke API keys of the server")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="print a new key (shown once)")
    create.add_argument("--tenant", required=True)
    create.add_argument(
        "--user", action="append", dest="users", help="a user the key may touch (repeatable; "
        "default: every user of the tenant)"
    )  # fmt: skip
    create.add_argument("--name", default="", help="a note shown by `keys list`")
    listing = keys_sub.add_parser("list", help="the keys (never their secrets) as JSON lines")
    listing.add_argument("--tenant")
    revoke = keys_sub.add_parser("revoke", help="stop a key working, at once")
    revoke.add_argument("key_id")
    for command in (create, listing, revoke):
        command.add_argument("--keys", required=True, help="the API key file")
    for command in (serve, mcp, keys):
        command.set_defaults(handler=run)  # how an `engram_agents.commands` entry point runs


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _memory(args: argparse.Namespace) -> Any:
    from engram_agents.memory import EngramMemory
    from engram_agents.store.encoders import HashingEncoder

    encoder: Any = HashingEncoder() if args.encoder == "hashing" else args.encoder
    config = _config(args.config) if args.config else None
    if args.chroma_host:
        if args.db:
            raise SystemExit("error: pass --db or --chroma-host, not both")
        return EngramMemory.chroma(
            host=args.chroma_host,
            port=args.chroma_port,
            collection=args.chroma_collection,
            encoder=encoder,
            config=config,
        )
    return EngramMemory(args.db, encoder=encoder, config=config)


def _config(path: str) -> Any:
    from engram_agents.store.config import StoreConfig

    try:
        settings = json.loads(Path(path).read_text("utf-8"))
        unknown = sorted(set(settings) - set(StoreConfig.model_fields))
        if unknown:  # StoreConfig ignores them; a typo here would go unnoticed
            raise ValueError(f"unknown settings {unknown}")
        return StoreConfig.model_validate(settings)
    except (OSError, ValueError, TypeError) as exc:  # pydantic's errors are ValueErrors
        raise SystemExit(f"error: --config {path}: {exc}") from exc


def _lm(args: argparse.Namespace) -> Any:
    from engram_agents.lm import EngramLM
    from engram_agents.model.loading import default_model_dir

    path = default_model_dir() if args.model == "default" else args.model
    return EngramLM.from_pretrained(path, storage_dir=args.model_storage)


def _serve(args: argparse.Namespace) -> int:
    if not _is_loopback(args.host) and not args.keys:
        print(
            f"error: refusing to serve on {args.host} without --keys: off loopback every "
            "request must carry an API key (create one with `engram-agents keys create`)",
            file=sys.stderr,
        )
        return 2
    if args.workers < 1 or (args.workers > 1 and args.model):
        print(
            "error: --workers must be at least 1, and 1 with --model (a forget in one process "
            "would leave the model of the others as it was)",
            file=sys.stderr,
        )
        return 2
    try:
        checked_patience(args.write_patience)
    except InvalidInputError as exc:
        print(f"error: --write-patience: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    # uvicorn picks httptools and uvloop when installed; the access log would be one more
    # formatted line per request, at a level `warning` drops anyway.
    options: dict[str, Any] = {"host": args.host, "port": args.port, "log_level": "warning"}
    options["access_log"] = False
    if args.workers == 1:
        uvicorn.run(_app(args), **options)
        return 0
    settings = {k: v for k, v in vars(args).items() if k != "handler"}
    os.environ[_WORKER_ARGS] = json.dumps(settings)
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=args.workers, **options)
    return 0


def _app(args: argparse.Namespace) -> Any:
    from engram_agents.server.app import create_app
    from engram_agents.server.keys import KeyStore

    keys = KeyStore(args.keys) if args.keys else None
    memory, lm = _memory(args), _lm(args) if args.model else None
    app = create_app(
        memory,
        keys,
        host=args.host,
        max_body_bytes=args.max_body_bytes,
        lm=lm,
        write_patience=args.write_patience,
    )
    _serving_runtime()
    return app


def _serving_runtime() -> None:
    """Two interpreter settings for the server's tail latency (docs/server.md).

    What startup built (torch, transformers, the encoder, the app: ~400k objects) is frozen out
    of the garbage collector's full passes: each one walked all of them, stopping every request
    for ~200 ms on a small CPU every few seconds under load. They live as long as the process;
    what requests allocate is collected as before.

    A thread that comes back from native code (an encode, SQLite) waits for the GIL until the
    thread holding it (mostly the event loop) is made to drop it: at most the switch interval,
    5 ms by default, once per hand-over. A recall's encode and its store work hand over several
    times, so 1 ms cuts the queueing that builds on them."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def worker_app() -> Any:
    """The app of one `serve --workers N` process: uvicorn imports and calls this in each."""
    return _app(argparse.Namespace(**json.loads(os.environ[_WORKER_ARGS])))


def _mcp(args: argparse.Namespace) -> int:
    from engram_agents.server.mcp_tools import build_mcp

    build_mcp(_memory(args), args.user).run("stdio")
    return 0


def _keys(args: argparse.Namespace) -> int:
    from engram_agents.server.keys import KeyStore

    store = KeyStore(args.keys)
    if args.keys_command == "create":
        print(store.create(args.tenant, args.users, args.name))
    elif args.keys_command == "list":
        for info in store.list(args.tenant):
            print(info.model_dump_json())
    else:
        store.revoke(args.key_id)
        print(json.dumps({"revoked": args.key_id}))
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return {"serve": _serve, "mcp": _mcp, "keys": _keys}[args.command](args)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("fastapi", "uvicorn", "httpx", "mcp"):
            print(f"error: {INSTALL_HINT} ({exc.name} is missing)", file=sys.stderr)
            return 2
        raise
