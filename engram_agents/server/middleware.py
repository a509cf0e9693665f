"""ASGI middleware in front of both the REST API and the MCP endpoint: who is calling (API key
to tenant), and how much they may send. Both answer in the server's JSON error shape."""

from __future__ import annotations

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engram_agents.errors import AuthenticationError
from engram_agents.server.errors import engram_error, json_error
from engram_agents.server.keys import KeyStore
from engram_agents.server.tenancy import Principal

PUBLIC_PATHS = frozenset(
    {"/", "/console", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/healthz"}
)
CONSOLE = "/console/"  # signs its visitors in itself (a key in a cookie, see console.session)


class Authenticate:
    """Puts the caller's `Principal` in `request.state.principal`; with a key store, a request
    without a valid `Authorization: Bearer <key>` gets 401 before any route (or 404) is seen."""

    def __init__(self, app: ASGIApp, keys: KeyStore | None) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")  # a lifespan scope has none
        if scope["type"] != "http" or path in PUBLIC_PATHS or path.startswith(CONSOLE):
            return await self.app(scope, receive, send)
        principal = Principal()
        if self.keys is not None:
            scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
            token = token.strip() if scheme.lower() == "bearer" else None
            try:  # a key seen since the file last changed needs no thread (nor database)
                principal = self.keys.cached(token) or await anyio.to_thread.run_sync(
                    self.keys.authenticate, token
                )
            except AuthenticationError as exc:
                return await engram_error(exc)(scope, receive, send)
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


class BodyLimit:
    """Reads the request body up to `max_bytes` before the app sees it: larger bodies get 413
    whether they announce their size or stream it in chunks."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = json_error(
            413, "PayloadTooLargeError", f"request body is over {self.max_bytes} bytes"
        )
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await too_large(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await too_large(scope, receive, send)
            more = message.get("more_body", False)
        pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks)}]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)
