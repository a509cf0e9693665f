"""The MCP face of the server (official `mcp` SDK, `MCPServer`): tools remember, recall, list,
get, update, delete, erasures and resource templates for a user's memories and erasure feed.
Over HTTP each call runs as the API key's tenant (the principal `Authenticate` put on the
request); over stdio as the local operator, confined to `--user` when one is given."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from engram_agents.errors import EngramError
from engram_agents.memory import EngramMemory
from engram_agents.server.priority import ReadsFirst
from engram_agents.server.tenancy import Principal, check_path_id

INSTRUCTIONS = (
    "Long-term memory. `remember` what is worth keeping about the user, `recall` before "
    "answering questions about them (results say which tags matched and why), and `update` or "
    "`delete` a memory the user corrects. Omit user_id when the server is bound to one user."
)


def _caller(ctx: Context, local: Principal) -> Principal:
    request = ctx.request_context.request
    return local if request is None else request.state.principal


async def _run(
    who: Principal, call: Callable[[], Awaitable[Any]], error: type[Exception] = ToolError
) -> Any:
    """Our errors reach the MCP client as a tool error naming the error type and the problem."""
    try:
        return await call()
    except EngramError as exc:
        raise error(f"{type(exc).__name__}: {who.message(str(exc))}") from exc


def build_mcp(
    memory: EngramMemory, user: str | None = None, gate: ReadsFirst | None = None
) -> MCPServer:
    """`user`: the one user a stdio server serves (the default for every tool's user_id);
    `gate`: the HTTP server's recalls-first order, shared with its REST routes."""
    gate = gate or ReadsFirst(0)
    local = Principal(users=None if user is None else (user,), default_user=user)
    server = MCPServer("engram-agents", instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool()
    async def remember(
        text: str, ctx: Context, user_id: str | None = None, session_id: str | None = None
    ) -> dict[str, Any]:
        """Store one memory (a fact, preference or event, in the user's words)."""
        who = _caller(ctx, local)
        await gate.wait_turn()
        engram = await _run(
            who, lambda: memory.aremember(text, who.inside(user_id), session_id=session_id)
        )
        return who.engram(engram).model_dump(mode="json")

    @server.tool()
    async def recall(
        query: str, ctx: Context, user_id: str | None = None, k: int = 5
    ) -> list[dict[str, Any]]:
        """The user's memories that best answer `query`, best first, with the matched tags."""
        who = _caller(ctx, local)
        with gate.reading():
            hits = await _run(who, lambda: memory.arecall(query, who.inside(user_id), k))
        return [who.hit(h).model_dump(mode="json") for h in hits]

    @server.tool(name="list")
    async def list_memories(ctx: Context, user_id: str | None = None) -> list[dict[str, Any]]:
        """All of the user's current memories, oldest first."""
        who = _caller(ctx, local)
        engrams = await _run(who, lambda: memory.alist(who.inside(user_id)))
        return [who.engram(e).model_dump(mode="json") for e in engrams]

    @server.tool()
    async def get(engram_id: str, ctx: Context, user_id: str | None = None) -> dict[str, Any]:
        """One memory by id."""
        who = _caller(ctx, local)
        engram = await _run(
            who, lambda: memory.aget(check_path_id(engram_id, "engram_id"), who.inside(user_id))
        )
        return who.engram(engram).model_dump(mode="json")

    @server.tool()
    async def update(
        engram_id: str, text: str, ctx: Context, user_id: str | None = None
    ) -> dict[str, Any]:
        """Correct a memory's text (its history keeps the old one)."""
        who = _caller(ctx, local)
        await gate.wait_turn()
        engram = await _run(who, lambda: memory.aupdate(engram_id, who.inside(user_id), text=text))
        return who.engram(engram).model_dump(mode="json")

    @server.tool()
    async def delete(engram_id: str, ctx: Context, user_id: str | None = None) -> int:
        """Delete one memory for good; returns how many went (1)."""
        who = _caller(ctx, local)
        return await _run(who, lambda: memory.adelete(engram_id, who.inside(user_id)))

    @server.tool()
    async def erasures(ctx: Context, user_id: str | None = None, after: int = 0) -> dict[str, Any]:
        """The user's deletes, forgets, scrubs and evictions after the cursor `after` (engram ids
        and times, never text), and the cursor to pass next time; the cursor counts only this
        user's audit entries. A model kept elsewhere follows it to forget erased facts."""
        who = _caller(ctx, local)
        feed = await _run(who, lambda: memory.aerasures(who.inside(user_id), after))
        return feed.model_dump(mode="json")

    @server.resource("engram://users/{user_id}/memories", mime_type="application/json")
    async def user_memories(user_id: str, ctx: Context) -> str:
        """A user's memories as JSON."""
        who = _caller(ctx, local)
        engrams = await _run(who, lambda: memory.alist(who.inside(user_id)), ResourceError)
        return json.dumps([who.engram(e).model_dump(mode="json") for e in engrams])

    @server.resource("engram://users/{user_id}/erasures{?after}", mime_type="application/json")
    async def user_erasures(user_id: str, ctx: Context, after: str = "0") -> str:
        """A user's erasure feed as JSON, the `erasures` tool's answer: the erasures after the
        cursor `after` (default 0, the whole feed) and the cursor to ask from next time."""
        who = _caller(ctx, local)
        cursor = int(after) if after.isdecimal() else after  # else refused, named, by the feed
        feed = await _run(who, lambda: memory.aerasures(who.inside(user_id), cursor), ResourceError)
        return feed.model_dump_json()

    return server
