"""`EngramMemory.remote(url, api_key=...)`: the same verbs, records and errors as the in-process
`EngramMemory`, served by `engram-agents serve` (needs httpx: pip install engram-agents[server]).

It subclasses `EngramMemory` so that code typed against it (the LangChain retriever and
middleware, the LlamaIndex memory) takes it unchanged; it has no local `store`. Each verb builds
one HTTP call, which the sync verb sends with a pooled client and its async twin (`arecall`, ...)
with an `httpx.AsyncClient`, so the two never drift apart."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic_core import to_jsonable_python

from engram_agents import errors
from engram_agents.ids import check_id
from engram_agents.memory import VERBS, EngramMemory, Message
from engram_agents.store import errors as store_errors
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.records import Engram, Evidence, RecallFilters, RecallHit, TimeRange
from engram_agents.store.reply_use import ReplyUse
from engram_agents.store.store import ConsolidationReport, MemoryItem
from engram_agents.store.validation import check_ids, recalled_ids

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


def _engrams(data: Any) -> Any:
    if isinstance(data, list):
        return [Engram.model_validate(d) for d in data]
    return Engram.model_validate(data)


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


def _signature(build: Callable[..., Call]) -> inspect.Signature:
    """The verb's arguments with the local verb's return type (what the caller gets back)."""
    local = inspect.signature(getattr(EngramMemory, build.__name__))
    return inspect.signature(build).replace(return_annotation=local.return_annotation)


def _verb(build: Callable[..., Call]) -> Callable[..., Any]:
    @functools.wraps(build)
    def send(self: RemoteMemory, *args: Any, **kwargs: Any) -> Any:
        return self._send(build(self, *args, **kwargs))

    send.build = build  # type: ignore[attr-defined]
    send.__signature__ = _signature(build)  # type: ignore[attr-defined]
    return send


def _async_verb(build: Callable[..., Call]) -> Callable[..., Any]:
    async def send(self: RemoteMemory, *args: Any, **kwargs: Any) -> Any:
        call = build(self, *args, **kwargs)
        # One client per call: an AsyncClient is bound to the event loop it first ran on.
        async with httpx.AsyncClient(**self._client_args) as client:
            try:
                response = await client.request(**self._request(call))
            except httpx.TransportError as exc:
                raise self._unreachable(exc) from exc
        return call.parse(_raise_for(response))

    send.__name__ = send.__qualname__ = f"a{build.__name__}"
    send.__doc__ = f"Async twin of `{build.__name__}`."
    send.__signature__ = _signature(build)  # type: ignore[attr-defined]
    return send


class RemoteMemory(EngramMemory):
    """EngramMemory over HTTP (see the module docstring)."""

    in_process = False

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 60.0) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise errors.InvalidInputError(f"url must start with http:// or https://, got {url!r}")
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

    # ------------------------------------------------------------------ write
    @_verb
    def remember(
        self,
        content: str | Sequence[Message],
        user_id: str,
        *,
        agent_id: str | None = None,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        event_time: datetime | str | None = None,
        evidence: list[Evidence] | None = None,
        redact: bool | None = None,
    ) -> Call:
        body = {
            "content": content if isinstance(content, str) else list(content),
            "agent_id": agent_id,
            "session_id": session_id,
            "metadata": metadata,
            "event_time": event_time,
            "evidence": evidence,
            "redact": redact,
        }
        return Call("POST", f"{self._user(user_id)}/memories", _engrams, body)

    @_verb
    def remember_many(
        self,
        items: Iterable[MemoryItem | dict[str, Any] | str],
        user_id: str,
        *,
        agent_id: str | None = None,
        session_id: str | None = None,
        redact: bool | None = None,
    ) -> Call:
        body = {"items": list(items), "agent_id": agent_id, "session_id": session_id}
        body["redact"] = redact
        return Call("POST", f"{self._user(user_id)}/memories/batch", _engrams, body)

    # ------------------------------------------------------------------ read
    @_verb
    def recall(
        self,
        query: str,
        user_id: str,
        k: int = 10,
        *,
        filters: RecallFilters | dict[str, Any] | None = None,
        time_range: Any = None,
        tags: list[str] | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        tier: str | None = None,
        include_superseded: bool = False,
        now: datetime | str | None = None,
    ) -> Call:
        body = {
            "query": query,
            "k": k,
            "filters": filters,
            "time_range": _time_range(time_range),
            "tags": tags,
            "agent_id": agent_id,
            "session_id": session_id,
            "tier": tier,
            "include_superseded": include_superseded,
            "now": now,
        }

        def hits(data: Any) -> list[RecallHit]:
            return [RecallHit.model_validate(h) for h in data]

        return Call("POST", f"{self._user(user_id)}/recall", hits, body)

    @_verb
    def get(self, engram_id: str, user_id: str) -> Call:
        path = f"{self._user(user_id)}/memories/{quote(str(engram_id), safe='')}"
        return Call("GET", path, _engrams)

    @_verb
    def list(
        self,
        user_id: str,
        *,
        include_superseded: bool = False,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> Call:
        scope = {"agent_id": agent_id, "session_id": session_id}
        params: dict[str, Any] = {"include_superseded": include_superseded}
        params |= {name: value for name, value in scope.items() if value is not None}
        return Call("GET", f"{self._user(user_id)}/memories", _engrams, params=params)

    @_verb
    def export(self, user_id: str, path: str | Path | None = None) -> Call:
        def write(data: dict[str, Any]) -> dict[str, Any]:
            if path is not None:
                Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False), "utf-8")
            return data

        return Call("GET", f"{self._user(user_id)}/export", write)

    # ------------------------------------------------------------------ change
    @_verb
    def update(
        self,
        engram_id: str,
        user_id: str,
        *,
        text: str | None = None,
        metadata: dict[str, Any] | None = None,
        event_time: datetime | str | None = None,
    ) -> Call:
        path = f"{self._user(user_id)}/memories/{quote(str(engram_id), safe='')}"
        body = {"text": text, "metadata": metadata, "event_time": event_time}
        return Call("PATCH", path, _engrams, body)

    @_verb
    def delete(self, ids: str | Iterable[str], user_id: str) -> Call:
        body = {"ids": check_ids(ids)}
        return Call("POST", f"{self._user(user_id)}/memories/delete", lambda d: d["deleted"], body)

    @_verb
    def forget(
        self,
        user_id: str,
        *,
        session_id: str | None = None,
        tags: list[str] | None = None,
        time_range: Any = None,
        everything: bool = False,
    ) -> Call:
        body = {
            "session_id": session_id,
            "tags": tags,
            "time_range": _time_range(time_range),
            "everything": everything,
        }
        return Call("POST", f"{self._user(user_id)}/forget", lambda d: d["deleted"], body)

    @_verb
    def feedback(self, ids: str | Iterable[str], user_id: str, useful: bool = True) -> Call:
        body = {"ids": check_ids(ids), "useful": useful}
        path = f"{self._user(user_id)}/feedback"
        return Call("POST", path, FusionWeights.model_validate, body)

    @_verb
    def observe_reply(
        self,
        reply: str,
        user_id: str,
        recalled: Sequence[RecallHit | str],
        *,
        query: str | None = None,
    ) -> Call:
        """Over HTTP the query (not the hits' matched tags) says which words are not use."""
        body = {"reply": reply, "recalled": recalled_ids(recalled)[0], "query": query}
        return Call("POST", f"{self._user(user_id)}/observe_reply", ReplyUse.model_validate, body)

    @_verb
    def consolidate(self, user_id: str) -> Call:
        path = f"{self._user(user_id)}/consolidate"
        return Call("POST", path, ConsolidationReport.model_validate)

    @_verb
    def set_consent(self, user_id: str, remember: bool) -> Call:
        body = {"remember": remember}
        return Call("PUT", f"{self._user(user_id)}/consent", lambda d: None, body)

    @_verb
    def consent(self, user_id: str) -> Call:
        return Call("GET", f"{self._user(user_id)}/consent", lambda d: d["remember"])

    @_verb
    def verify_audit(self) -> Call:
        return Call("GET", "/v1/audit/verify", lambda d: d["entries"])

    def attach_model(self, lm: Any) -> None:
        """Refused: the erase hook must run where engrams are deleted, and a server deletes
        them (for every client) where a model in this process cannot follow.
        `consolidate_into_model` still works: each run drops the facts of deleted engrams."""
        raise errors.InvalidInputError(
            "attach_model needs the memory in this process: a server deletes engrams where a "
            "model here cannot follow (consolidate_into_model drops their facts at each run)"
        )

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        self.close()


for _name in VERBS:
    if _name != "close":
        setattr(RemoteMemory, f"a{_name}", _async_verb(getattr(RemoteMemory, _name).build))
