"""The ASGI app: a REST API that mirrors `EngramMemory`'s verbs under /v1, the MCP endpoint at
/mcp, OpenAPI at /docs. Every user id a caller names is mapped into the caller's tenant
(`Principal.inside`) before the store sees it, and every record sent back is mapped out again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from engram_agents.erasure_feed import ErasureFeed
from engram_agents.memory import EngramMemory
from engram_agents.server import console, errors
from engram_agents.server.keys import KeyStore
from engram_agents.server.mcp_tools import build_mcp
from engram_agents.server.middleware import Authenticate, BodyLimit
from engram_agents.server.priority import DEFAULT_PATIENCE_S, ReadsFirst
from engram_agents.server.queries import RecallBatcher
from engram_agents.server.schemas import (
    AuditStatus,
    Consent,
    ConsentBody,
    Deleted,
    FeedbackBody,
    ForgetBody,
    IdsBody,
    RecallBody,
    RememberBody,
    RememberManyBody,
    ReplyBody,
    UpdateBody,
)
from engram_agents.server.tenancy import Principal, check_path_id, verified_entries
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.ranker import RecallItem
from engram_agents.store.records import ConsolidationReport, Engram, RecallHit
from engram_agents.store.reply_use import ReplyUse
from engram_agents.store.validation import check_text

if TYPE_CHECKING:
    from engram_agents.lm import EngramLM

DEFAULT_MAX_BODY = 8 * 1024 * 1024


# The dependencies are async only so that FastAPI runs them on the event loop: a sync one
# would cost a thread-pool hop each, and they never block.
async def _caller(request: Request) -> Principal:
    return request.state.principal


async def _user(user_id: str, request: Request) -> str:
    """The stored id of the path's user; a dependency, so a key that may not touch the user is
    refused (403) before the body is even read."""
    principal: Principal = request.state.principal
    return principal.inside(user_id)


_ENGRAM = TypeAdapter(Engram)
_ENGRAMS = TypeAdapter(list[Engram])
_HITS = TypeAdapter(list[RecallHit])


def _json(adapter: TypeAdapter, value: Any, status_code: int = 200) -> Response:
    """Our own records straight to JSON: returned as objects, FastAPI would first validate each
    again against the route's response model before dumping it."""
    body = adapter.dump_json(value, by_alias=True)
    return Response(body, status_code, media_type="application/json")


Caller = Annotated[Principal, Depends(_caller)]
User = Annotated[str, Depends(_user)]
USER = "/users/{user_id}"


def rest_api(memory: EngramMemory, gate: ReadsFirst) -> APIRouter:
    """The verbs as routes. Most are plain functions: FastAPI runs them in its thread pool, and
    the store is thread-safe. Recall, the most frequent, runs on the event loop. Writes that
    encode text (remember, update) yield to recalls in flight (`gate`); erasures never wait."""
    api = APIRouter(prefix="/v1")

    def stored(user: str, body: RememberBody, who: Principal) -> Response:
        args = dict(body)
        stored = memory.remember(args.pop("content"), user, **args)
        if isinstance(stored, list):
            return _json(_ENGRAMS, [who.engram(e) for e in stored], 201)
        return _json(_ENGRAM, who.engram(stored), 201)

    @api.post(USER + "/memories", status_code=201, response_model=Engram | list[Engram])
    async def remember(user: User, body: RememberBody, who: Caller) -> Response:
        await gate.wait_turn()
        return await run_in_threadpool(stored, user, body, who)

    def stored_many(user: str, body: RememberManyBody, who: Principal) -> list[Engram]:
        args = dict(body)
        return [who.engram(e) for e in memory.remember_many(args.pop("items"), user, **args)]

    @api.post(USER + "/memories/batch", status_code=201)
    async def remember_many(user: User, body: RememberManyBody, who: Caller) -> list[Engram]:
        await gate.wait_turn()
        return await run_in_threadpool(stored_many, user, body, who)

    recalls = RecallBatcher(memory.store)

    @api.post(USER + "/recall", response_model=list[RecallHit])
    async def recall(user: User, body: RecallBody, who: Caller) -> Response:
        """On the event loop, not in the thread pool: the query is encoded in one batch with
        the others waiting, then ranked together with them (`RecallBatcher`)."""
        args = dict(body)
        query = check_text(args.pop("query"), memory.config.max_text_bytes, "query")
        k, filters, now = args.pop("k"), args.pop("filters"), args.pop("now")
        item = RecallItem.checked(query, user, k, None, filters, args, now)
        with gate.reading():
            hits = await recalls.recall(item)
        return _json(_HITS, [who.hit(h) for h in hits])

    @api.get(USER + "/memories", response_model=list[Engram])
    def list_memories(
        user: User,
        who: Caller,
        include_superseded: bool = False,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> Response:
        stored = memory.list(
            user, include_superseded=include_superseded, agent_id=agent_id, session_id=session_id
        )
        return _json(_ENGRAMS, [who.engram(e) for e in stored])

    @api.get(USER + "/memories/{engram_id}", response_model=Engram)
    def get(user: User, engram_id: str, who: Caller) -> Response:
        return _json(_ENGRAM, who.engram(memory.get(check_path_id(engram_id, "engram_id"), user)))

    def updated(user: str, engram_id: str, body: UpdateBody, who: Principal) -> Engram:
        return who.engram(memory.update(engram_id, user, **dict(body)))

    @api.patch(USER + "/memories/{engram_id}")
    async def update(user: User, engram_id: str, body: UpdateBody, who: Caller) -> Engram:
        engram_id = check_path_id(engram_id, "engram_id")
        await gate.wait_turn()
        return await run_in_threadpool(updated, user, engram_id, body, who)

    @api.delete(USER + "/memories/{engram_id}")
    def delete(user: User, engram_id: str) -> Deleted:
        return Deleted(deleted=memory.delete(check_path_id(engram_id, "engram_id"), user))

    @api.post(USER + "/memories/delete")
    def delete_many(user: User, body: IdsBody) -> Deleted:
        return Deleted(deleted=memory.delete(body.ids, user))

    @api.post(USER + "/forget")
    def forget(user: User, body: ForgetBody) -> Deleted:
        return Deleted(deleted=memory.forget(user, **dict(body)))

    @api.get(USER + "/export")
    def export(user: User, who: Caller) -> dict[str, Any]:
        return who.export(memory.export(user))

    @api.post(USER + "/feedback")
    def feedback(user: User, body: FeedbackBody) -> FusionWeights:
        return memory.feedback(body.ids, user, body.useful)

    @api.post(USER + "/observe_reply")
    def observe_reply(user: User, body: ReplyBody) -> ReplyUse:
        return memory.observe_reply(body.reply, user, body.recalled, query=body.query)

    @api.get(USER + "/consent")
    def consent(user: User) -> Consent:
        return Consent(remember=memory.consent(user))

    @api.put(USER + "/consent")
    def set_consent(user: User, body: ConsentBody) -> Consent:
        memory.set_consent(user, body.remember)
        return Consent(remember=body.remember)

    @api.post(USER + "/consolidate")
    def consolidate(user: User) -> ConsolidationReport:
        return memory.consolidate(user)

    @api.get(USER + "/erasures")
    def erasures(user: User, after: int = 0) -> ErasureFeed:
        """The user's erasures after the cursor `after` (engram ids, no text; the cursor counts
        only this user's audit entries): what a client's model follows to forget them."""
        return memory.erasures(user, after)

    @api.get("/audit/verify")
    def verify_audit(who: Caller) -> AuditStatus:
        """Checks the whole store's audit hash chain (409 AuditIntegrityError when broken);
        `entries` counts only the entries about the users the key may touch."""
        return AuditStatus(verified=True, entries=verified_entries(memory, who))

    @api.get("/config")
    def config() -> StoreConfig:
        """The store's settings (dedup, supersede, ranking): server-wide, no tenant's data."""
        return memory.config

    return api


def create_app(
    memory: EngramMemory,
    keys: KeyStore | None = None,
    *,
    host: str = "127.0.0.1",
    max_body_bytes: int = DEFAULT_MAX_BODY,
    lm: EngramLM | None = None,
    write_patience: float = DEFAULT_PATIENCE_S,
) -> FastAPI:
    """The whole server over one `EngramMemory`. Without `keys` it is open (single-tenant, for
    loopback use: user ids are stored as given); with them every request needs a key, and each
    key's tenant sees only its own users. With `lm`, the console also shows (and can forget)
    the facts each user consolidated into the model's Engram tables. `write_patience`: the
    longest a write waits for recalls in flight (`ReadsFirst`; 0: no priority)."""
    gate = ReadsFirst(write_patience)
    mcp = build_mcp(memory, gate=gate)
    mcp_http = mcp.streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True, host=host
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    from engram_agents import __version__

    app = FastAPI(
        title="engram-agents",
        version=__version__,
        summary="Long-term memory for agents: the EngramMemory verbs over HTTP, and MCP at /mcp.",
        lifespan=lifespan,
        redoc_url=None,
    )
    errors.install(app)
    app.include_router(rest_api(memory, gate))
    console.install(app, memory, keys, lm)

    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.router.routes.extend(mcp_http.routes)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(Authenticate, keys=keys)
    return app
