"""`engram-agents serve`: EngramMemory over HTTP (REST + MCP) with tenant keys. Needs the
`server` extra (pip install engram-agents[server]); the names load on first use so that
`engram_agents.server.cli` can add its commands without it."""

from __future__ import annotations

from typing import Any

__all__ = ["KeyStore", "Principal", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from engram_agents.server.app import create_app

        return create_app
    if name == "KeyStore":
        from engram_agents.server.keys import KeyStore

        return KeyStore
    if name == "Principal":
        from engram_agents.server.tenancy import Principal

        return Principal
    raise AttributeError(name)
