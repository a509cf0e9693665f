"""The web console at /console: server-rendered pages (Jinja2, autoescaped) over the same
`EngramMemory` as the REST API, signed in with an API key (see `session`). Every form posts
back here and is answered with a redirect (post/redirect/get), so reloading repeats nothing; the
forms of a user's page post with the page's state (`links.PageState`) and are redirected back to
it, so an edit or a delete keeps the search, the toggle and the erasure page on screen.

(No `from __future__ import annotations` here: FastAPI must resolve the `Signed` dependency
alias, which is local to `console_router`, when the routes are defined.)"""

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from pydantic import BaseModel
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from engram_agents.errors import AuthenticationError, EngramError, InvalidInputError
from engram_agents.memory import EngramMemory
from engram_agents.server import errors
from engram_agents.server.console import links, session, views
from engram_agents.server.keys import KeyStore
from engram_agents.server.tenancy import Principal, check_path_id

if TYPE_CHECKING:
    from engram_agents.lm import EngramLM

HERE = Path(__file__).parent
HITS = 5  # search results shown: a page a person reads, not a retrieval run
NOTICES = {
    "updated": "Memory updated.",
    "deleted": "Memory deleted.",
    "forgot": "Fact forgotten: the model no longer recalls it.",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make form posts say Origin: null
    "Cache-Control": "no-store",
}
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    return f"{n / 1e3:.1f} kB" if n < 1_000_000 else f"{n / 1e6:.1f} MB"


class Session(BaseModel):
    secret: str
    who: Principal

    @property
    def csrf(self) -> str:
        return session.csrf_token(self.secret)


class NotSignedIn(Exception):
    """Raised by pages that need a session: answered with the sign-in page."""


def page_state(
    user_id: str, q: str = "", superseded: bool = False, erasures_before: int | None = None
) -> links.PageState:
    """A user page's state from the query string, validated alike for the page and for the forms
    posted from it (a bad value is the same 400 either way)."""
    return links.PageState(user_id, q, superseded, erasures_before)


State = Annotated[links.PageState, Depends(page_state)]


def console_router(
    memory: EngramMemory, keys: KeyStore | None, lm: "EngramLM | None" = None
) -> tuple[APIRouter, Jinja2Templates]:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(when=_when, size=_size)
    router = APIRouter(prefix=session.PATH, include_in_schema=False)

    def current(request: Request) -> Session | None:
        secret = request.cookies.get(session.COOKIE)
        try:
            return Session(secret=secret or "", who=session.principal_of(secret, keys))
        except AuthenticationError:
            return None

    def signed_in(request: Request) -> Session:
        me = current(request)
        if me is None:
            raise NotSignedIn
        request.state.principal = me.who  # error messages name users as the caller does
        return me

    Signed = Annotated[Session, Depends(signed_in)]

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("open_server", keys is None)
        return templates.TemplateResponse(
            request, name, context, status_code=status, headers=SECURITY_HEADERS
        )

    def back(state: links.PageState, notice: str = "") -> RedirectResponse:
        return RedirectResponse(state.after(notice), status_code=303)

    @router.get("/", name="home")
    def home(request: Request) -> Response:
        me = current(request)
        if me is None:
            return page(request, "sign_in.html")
        return page(request, "users.html", me=me, users=views.users_of(memory, me.who))

    @router.post("/sign-in")
    def sign_in(request: Request, key: Annotated[str, Form()] = "") -> Response:
        session.check_same_origin(request)
        if keys is None:
            secret = session.new_open_secret()
        else:
            try:
                keys.authenticate(key.strip())
            except AuthenticationError:
                error = "That key is not valid (wrong, revoked or mistyped). Try again."
                return page(request, "sign_in.html", status=401, error=error)
            secret = key.strip()
        response = RedirectResponse(router.url_path_for("home"), status_code=303)
        session.set_cookie(response, secret, request)
        return response

    @router.post("/sign-out")
    def sign_out(request: Request, me: Signed, csrf: Annotated[str, Form()] = "") -> Response:
        session.check_csrf(request, me.secret, csrf)
        response = RedirectResponse(router.url_path_for("home"), status_code=303)
        session.clear_cookie(response)
        return response

    @router.get("/open")
    def open_user(me: Signed, user_id: str = "") -> Response:
        """The user-picker form's target (a GET form cannot build a path)."""
        return back(links.PageState(me.who.outside(me.who.inside(user_id))))

    @router.get("/users/{user_id}", name="user_page")
    def user_page(request: Request, me: Signed, state: State, notice: str = "") -> Response:
        user, q, superseded = me.who.inside(state.user_id), state.q, state.superseded
        hits = memory.recall(q, user, HITS, include_superseded=superseded) if q.strip() else None
        return page(
            request,
            "user.html",
            me=me,
            user_id=state.user_id,
            state=state,
            hits=hits,
            notice=NOTICES.get(notice, ""),
            overview=views.overview(memory, user, superseded, state.erasures_before),
            chain=views.chain_status(memory, me.who),
            facts=views.facts_of(lm, user) if lm is not None else None,
        )

    @router.post("/users/{user_id}/memories/{engram_id}/edit")
    def edit(
        request: Request,
        engram_id: str,
        me: Signed,
        state: State,
        text: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
        event_time: Annotated[str, Form()] = "",
    ) -> Response:
        session.check_csrf(request, me.secret, csrf)
        user = me.who.inside(state.user_id)
        engram_id = check_path_id(engram_id, "engram_id")
        memory.update(engram_id, user, text=text, event_time=event_time.strip() or None)
        return back(state, notice="updated")

    @router.post("/users/{user_id}/memories/{engram_id}/delete")
    def delete(
        request: Request,
        engram_id: str,
        me: Signed,
        state: State,
        csrf: Annotated[str, Form()] = "",
        confirm: Annotated[str, Form()] = "",
    ) -> Response:
        session.check_csrf(request, me.secret, csrf)
        user, engram_id = me.who.inside(state.user_id), check_path_id(engram_id, "engram_id")
        if confirm != "yes":  # without JavaScript's dialog: ask on a page of its own
            engram = me.who.engram(memory.get(engram_id, user))
            return page(request, "confirm_delete.html", me=me, state=state, engram=engram)
        memory.delete(engram_id, user)
        return back(state, notice="deleted")

    @router.get("/users/{user_id}/export")
    def export(user_id: str, me: Signed) -> Response:
        data = me.who.export(memory.export(me.who.inside(user_id)))
        name = _FILENAME_UNSAFE.sub("_", user_id)[:64] or "user"
        return Response(
            json.dumps(data, indent=2, ensure_ascii=False),
            media_type="application/json",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="engrams-{name}.json"',
            },
        )

    @router.post("/users/{user_id}/facts/forget")
    def forget_fact(
        request: Request,
        me: Signed,
        state: State,
        csrf: Annotated[str, Form()] = "",
        question: Annotated[str, Form()] = "",
        answer: Annotated[str, Form()] = "",
        statement: Annotated[str, Form()] = "",
    ) -> Response:
        session.check_csrf(request, me.secret, csrf)
        if lm is None:
            raise InvalidInputError("this server has no model loaded")
        fact = {"question": question, "answer": answer, "statement": statement}
        lm.forget({k: v for k, v in fact.items() if v}, me.who.inside(state.user_id))
        return back(state, notice="forgot")

    return router, templates


def install(
    app: FastAPI, memory: EngramMemory, keys: KeyStore | None, lm: "EngramLM | None" = None
) -> None:
    """Adds the console to the server's app: pages, static files, `/` leading to it, and error
    pages (HTML under /console; the API keeps its JSON errors)."""
    router, templates = console_router(memory, keys, lm)
    app.include_router(router)
    app.mount(f"{session.PATH}/static", StaticFiles(directory=HERE / "static"), name="static")

    async def root() -> RedirectResponse:
        return RedirectResponse(f"{session.PATH}/", status_code=307)

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)

    async def on_not_signed_in(request: Request, exc: Exception) -> Response:
        response = templates.TemplateResponse(
            request,
            "sign_in.html",
            {"open_server": keys is None, "error": "Please sign in (again)."},
            status_code=401,
            headers=SECURITY_HEADERS,
        )
        session.clear_cookie(response)
        return response

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, EngramError)
        as_json = errors.engram_error(exc, request)
        if not request.url.path.startswith(f"{session.PATH}/"):
            return as_json
        body = json.loads(as_json.body)["error"]
        return templates.TemplateResponse(
            request,
            "error.html",
            {"open_server": keys is None, "error": body["message"], "kind": body["type"]},
            status_code=as_json.status_code,
            headers=SECURITY_HEADERS,
        )

    app.add_exception_handler(NotSignedIn, on_not_signed_in)
    app.add_exception_handler(EngramError, on_error)
