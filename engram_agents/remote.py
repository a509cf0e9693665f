"""`EngramMemory.remote(url, api_key=...)`: the same verbs, records and errors as the in-process
`EngramMemory`, served by `engram-agents serve` (needs httpx: pip install engram-agents[server]).

It subclasses `EngramMemory` so that code typed against it (the LangChain retriever and
middleware, the LlamaIndex memory) takes it unchanged; it has no local `store`. A verb's
parameters are written once, on `EngramMemory`: `@mirrors(EngramMemory.recall)` gives the remote
`recall` them (for type checkers, help() and IDEs) and hands its body the bound arguments, from
which it builds one HTTP call. The sync verb sends it with a pooled client and its async twin
(`arecall`, ...) with an `httpx.AsyncClient`, so the two never drift apart."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import quote

import httpx
from pydantic_core import to_jsonable_python

from engram_agents import errors
from engram_agents.erasure_feed import ErasureFeed, check_cursor
from engram_agents.ids import check_id
from engram_agents.memory import EngramMemory
from engram_agents.store import errors as store_errors
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.records import Engram, RecallHit, TimeRange
from engram_agents.store.reply_use import ReplyUse
from engram_agents.store.store import ConsolidationReport
from engram_agents.store.validation import check_ids, recalled_ids
from engram_agents.verbs import VERBS

if TYPE_CHECKING:
    from engram_agents.model_follower import ModelFollower

ERRORS: dict[str, type[errors.EngramError]] = {
    cls.__name__: cls
    for module in (errors, store_errors)
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, errors.EngramError)
}
# The server refuses an oversized body before the store sees it; in-process, the store would
# have refused the text as bad input.
ERRORS["PayloadTooLargeError"] = errors.InvalidInputError


@dataclass
class Call:
    method: str
    path: str
    parse: Callable[[Any], Any]
    body: Any = None
    params: dict[str, Any] | None = None
    erases: bool = False  # may erase engrams: an attached model follows right after


def _engrams(data: Any) -> Any:
    if isinstance(data, list):
        return [Engram.model_validate(d) for d in data]
    return Engram.model_validate(data)


def _hits(data: Any) -> list[RecallHit]:
    return [RecallHit.model_validate(h) for h in data]


def _raise_for(response: httpx.Response) -> Any:
    """The response's JSON, or the error the server named, raised as our own class."""
    try:
        data = response.json()
    except json.JSONDecodeError:
        data = None
    if response.is_success:
        return data
    error = data.get("error", {}) if isinstance(data, dict) else {}
    cls = ERRORS.get(error.get("type"), errors.EngramError)
    raise cls(error.get("message") or f"server answered HTTP {response.status_code}")


def _time_range(value: Any) -> Any:
    return [value.start, value.end] if isinstance(value, TimeRange) else value


Args = dict[str, Any]
"""A verb's arguments by name, bound by the local verb's signature with its defaults applied."""

P = ParamSpec("P")
R = TypeVar("R")


def mirrors(
    verb: Callable[Concatenate[EngramMemory, P], R],
) -> Callable[[Callable[[RemoteMemory, Args], Call]], Callable[Concatenate[RemoteMemory, P], R]]:
    """The remote verb mirroring the local `verb`, from a body that turns the bound arguments into
    one HTTP call. The parameters are written once, on `EngramMemory`: type checkers read them
    through `P` and `R`, help() and inspect through `__signature__` and `__wrapped__`."""
    signature = inspect.signature(verb)

    def mirror(
        build: Callable[[RemoteMemory, Args], Call],
    ) -> Callable[Concatenate[RemoteMemory, P], R]:
        def call_of(self: RemoteMemory, *args: Any, **kwargs: Any) -> Call:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            return build(self, {k: v for k, v in bound.arguments.items() if k != "self"})

        @functools.wraps(verb)
        def send(self: RemoteMemory, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return self._send(call_of(self, *args, **kwargs))

        send.__module__, send.__qualname__ = build.__module__, build.__qualname__
        send.__signature__ = signature  # type: ignore[attr-defined]
        send.call_of = call_of  # type: ignore[attr-defined]
        return send

    return mirror


def _async_verb(verb: Callable[..., Any]) -> Callable[..., Any]:
    """The async twin of a mirrored verb: the same call, sent with an `httpx.AsyncClient`."""

    async def send(self: RemoteMemory, *args: Any, **kwargs: Any) -> Any:
        call = verb.call_of(self, *args, **kwargs)  # type: ignore[attr-defined]
        follow = self._follower.sync if self._follower is not None else None
        if follow is not None:
            await asyncio.to_thread(follow)
        # One client per call: an AsyncClient is bound to the event loop it first ran on.
        async with httpx.AsyncClient(**self._client_args) as client:
            try:
                response = await client.request(**self._request(call))
            except httpx.TransportError as exc:
                raise self._unreachable(exc) from exc
        result = call.parse(_raise_for(response))
        if follow is not None and call.erases:
            await asyncio.to_thread(follow)
        return result

    send.__name__ = f"a{verb.__name__}"
    send.__qualname__ = f"RemoteMemory.a{verb.__name__}"
    send.__doc__ = f"Async twin of `{verb.__name__}`."
    send.__signature__ = inspect.signature(verb)  # type: ignore[attr-defined]
    return send


def _body(args: Args, **changed: Any) -> dict[str, Any]:
    """The arguments as a JSON body: all but the ids the URL path names, `changed` put over them."""
    return {k: v for k, v in args.items() if k not in ("user_id", "engram_id")} | changed


class RemoteMemory(EngramMemory):
    """EngramMemory over HTTP (see the module docstring)."""

    in_process = False

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        erasure_poll: float | None = 2.0,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise errors.InvalidInputError(f"url must start with http:// or https://, got {url!r}")
        if erasure_poll is not None and (
            isinstance(erasure_poll, bool)
            or not isinstance(erasure_poll, int | float)
            or not erasure_poll > 0
        ):
            raise errors.InvalidInputError(
                f"erasure_poll must be a positive number of seconds or None, got {erasure_poll!r}"
            )
        self._erasure_poll = erasure_poll
        self._follower: ModelFollower | None = None
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client_args: dict[str, Any] = {
            "base_url": self.url,
            "headers": headers,
            "timeout": timeout,
            # Built once and shared, so no async call's client loads the CA bundle again.
            "verify": httpx.create_ssl_context(),
        }
        self._client = httpx.Client(**self._client_args)

    def __repr__(self) -> str:
        return f"RemoteMemory({self.url!r})"

    @functools.cached_property
    def config(self) -> StoreConfig:  # type: ignore[override]
        """The server's store settings, asked once (`GET /v1/config`)."""
        return self._send(Call("GET", "/v1/config", StoreConfig.model_validate))

    def _send(self, call: Call) -> Any:
        """One verb's call, with the attached model following the server's erasures first (and
        after a call that may erase)."""
        if self._follower is not None:
            self._follower.sync()
        result = self._fetch(call)
        if self._follower is not None and call.erases:
            self._follower.sync()
        return result

    def _fetch(self, call: Call) -> Any:
        try:
            response = self._client.request(**self._request(call))
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        return call.parse(_raise_for(response))

    @staticmethod
    def _request(call: Call) -> dict[str, Any]:
        body = None if call.body is None else to_jsonable_python(call.body)
        return {"method": call.method, "url": call.path, "json": body, "params": call.params}

    def _unreachable(self, exc: Exception) -> errors.EngramError:
        return store_errors.BackendUnavailableError(
            f"cannot reach the engram-agents server at {self.url}: {exc}"
        )

    @staticmethod
    def _user(user_id: str) -> str:
        return f"/v1/users/{quote(check_id(user_id), safe='')}"

    def _memory(self, args: Args) -> str:
        return f"{self._user(args['user_id'])}/memories/{quote(str(args['engram_id']), safe='')}"

    # ------------------------------------------------------------------ write
    @mirrors(EngramMemory.remember)
    def remember(self, a: Args) -> Call:
        content = a["content"] if isinstance(a["content"], str) else list(a["content"])
        return Call(
            "POST", f"{self._user(a['user_id'])}/memories", _engrams, _body(a, content=content)
        )

    @mirrors(EngramMemory.remember_many)
    def remember_many(self, a: Args) -> Call:
        body = _body(a, items=list(a["items"]))
        return Call("POST", f"{self._user(a['user_id'])}/memories/batch", _engrams, body)

    # ------------------------------------------------------------------ read
    @mirrors(EngramMemory.recall)
    def recall(self, a: Args) -> Call:
        body = _body(a, time_range=_time_range(a["time_range"]))
        return Call("POST", f"{self._user(a['user_id'])}/recall", _hits, body)

    @mirrors(EngramMemory.get)
    def get(self, a: Args) -> Call:
        return Call("GET", self._memory(a), _engrams)

    @mirrors(EngramMemory.list)
    def list(self, a: Args) -> Call:
        params = {"include_superseded": a["include_superseded"]}
        params |= {k: a[k] for k in ("agent_id", "session_id") if a[k] is not None}
        return Call("GET", f"{self._user(a['user_id'])}/memories", _engrams, params=params)

    @mirrors(EngramMemory.export)
    def export(self, a: Args) -> Call:
        def write(data: dict[str, Any]) -> dict[str, Any]:
            if a["path"] is not None:
                text = json.dumps(data, indent=2, ensure_ascii=False)
                Path(a["path"]).write_text(text, "utf-8")
            return data

        return Call("GET", f"{self._user(a['user_id'])}/export", write)

    # ------------------------------------------------------------------ change
    @mirrors(EngramMemory.update)
    def update(self, a: Args) -> Call:
        return Call("PATCH", self._memory(a), _engrams, _body(a))

    @mirrors(EngramMemory.delete)
    def delete(self, a: Args) -> Call:
        body = _body(a, ids=check_ids(a["ids"]))
        path = f"{self._user(a['user_id'])}/memories/delete"
        return Call("POST", path, lambda d: d["deleted"], body, erases=True)

    @mirrors(EngramMemory.forget)
    def forget(self, a: Args) -> Call:
        body = _body(a, time_range=_time_range(a["time_range"]))
        path = f"{self._user(a['user_id'])}/forget"
        return Call("POST", path, lambda d: d["deleted"], body, erases=True)

    @mirrors(EngramMemory.feedback)
    def feedback(self, a: Args) -> Call:
        body = _body(a, ids=check_ids(a["ids"]))
        path = f"{self._user(a['user_id'])}/feedback"
        return Call("POST", path, FusionWeights.model_validate, body)

    @mirrors(EngramMemory.observe_reply)
    def observe_reply(self, a: Args) -> Call:
        # Over HTTP the query (not the hits' matched tags) says which words are not use.
        body = _body(a, recalled=recalled_ids(a["recalled"])[0])
        path = f"{self._user(a['user_id'])}/observe_reply"
        return Call("POST", path, ReplyUse.model_validate, body)

    @mirrors(EngramMemory.consolidate)
    def consolidate(self, a: Args) -> Call:
        path = f"{self._user(a['user_id'])}/consolidate"  # may evict
        return Call("POST", path, ConsolidationReport.model_validate, erases=True)

    @mirrors(EngramMemory.set_consent)
    def set_consent(self, a: Args) -> Call:
        return Call("PUT", f"{self._user(a['user_id'])}/consent", lambda d: None, _body(a))

    @mirrors(EngramMemory.consent)
    def consent(self, a: Args) -> Call:
        return Call("GET", f"{self._user(a['user_id'])}/consent", lambda d: d["remember"])

    @mirrors(EngramMemory.verify_audit)
    def verify_audit(self, a: Args) -> Call:
        return Call("GET", "/v1/audit/verify", lambda d: d["entries"])

    @mirrors(EngramMemory.erasures)
    def erasures(self, a: Args) -> Call:
        params = {"after": check_cursor(a["after"])}
        path = f"{self._user(a['user_id'])}/erasures"
        return Call("GET", path, ErasureFeed.model_validate, params=params)

    def attach_model(self, lm: Any, model_users: Mapping[str, str] | None = None) -> None:
        """Make `lm` forget the facts of engrams the server erases, whoever erases them (another
        client, the web console): before each of this client's calls, after its own deletes,
        and every `erasure_poll` seconds (see `engram_agents.model_follower`). Only the store
        users named in `model_users` (store user -> the model user holding its facts) are
        followed; `consolidate_into_model` names its user itself."""
        from engram_agents.model_follower import ModelFollower

        if self._follower is None:
            self._follower = ModelFollower(self, self._erasure_poll)
        users = {check_id(u): check_id(m) for u, m in (model_users or {}).items()}
        self._follower.follow(lm, users)

    def close(self) -> None:
        if self._follower is not None:
            self._follower.close()
        self._client.close()

    async def aclose(self) -> None:
        self.close()


for _name in VERBS:
    if _name != "close":
        setattr(RemoteMemory, f"a{_name}", _async_verb(getattr(RemoteMemory, _name)))
