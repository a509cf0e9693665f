"""EngramStore: the episodic store as a LangGraph `BaseStore`, for `create_agent(store=...)`.

Namespaces map to user scopes: the namespace element at `user_position` (default 0, so
`("ana", "memories")` belongs to user "ana"; `("users",)` puts every item in one scope "users")
is the engram user id, and the whole namespace, the key and the value are kept in the engram's
metadata. Each item is one engram, whose text (what recall searches) is taken from the value's
indexed fields. Search is recall: sketch-tag filtering, then dense ranking, then the value
filter.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import get_text_at_path

from engram_agents import EngramMemory as CoreMemory
from engram_agents.chat import Engram, StoreConfig

# A store item is addressed by (namespace, key), so the episodic lifecycle must not fold two
# items into one: no near-duplicate reinforcement, no supersede.
ITEM_CONFIG = StoreConfig(dedup_window_s=0, supersede_similarity=1.0, supersede_keyword_overlap=1.0)
REGISTRY = "langgraph"  # scope listing the namespaces; LangGraph reserves it as a root label
OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


class EngramStore(BaseStore):
    """LangGraph long-term memory backed by engram-agents' episodic store.

    ```python
    store = EngramStore("store.db")                   # SQLite; EngramStore(memory=...) too
    store.put(("ana", "memories"), "m1", {"text": "I adopted a greyhound, Pixel", "kind": "pet"})
    store.search(("ana",), query="what is my dog called?", filter={"kind": "pet"})
    agent = create_agent(model, tools, store=store)   # tools reach it as runtime.store
    ```
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        memory: CoreMemory | None = None,
        encoder: Any = None,
        user_position: int = 0,
        index_fields: list[str] | None = None,
    ) -> None:
        """`path`/`encoder` open a store (SQLite); or pass an open EngramMemory built with
        `config=ITEM_CONFIG`. `index_fields` are the value paths recall searches (default:
        the value's top-level strings), overridable per put with `index=`."""
        if memory is None:
            memory = CoreMemory(path, encoder=encoder, config=ITEM_CONFIG)
        elif path is not None or encoder is not None:
            raise ValueError("pass either memory or path/encoder, not both")
        cfg = memory.store.config
        if (cfg.dedup_window_s, cfg.supersede_similarity) != (0, 1.0):
            raise ValueError(
                "EngramStore needs a memory that keeps items apart: build it with "
                "EngramMemory(..., config=langchain_engram.stores.ITEM_CONFIG)"
            )
        if user_position < 0:
            raise ValueError(f"user_position must be >= 0, got {user_position}")
        self.memory = memory
        self.user_position = user_position
        self.index_fields = index_fields
        self._lock = threading.RLock()  # a put (find, then write) is one step in this process

    # -- BaseStore ------------------------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the ops in order; every put is checked before anything is written."""
        ops = list(ops)
        prepared = {i: self._prepare_put(op) for i, op in enumerate(ops) if isinstance(op, PutOp)}
        with self._lock:
            return [
                self._put(op, prepared[i]) if isinstance(op, PutOp) else self._read(op)
                for i, op in enumerate(ops)
            ]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    def _read(self, op: Op) -> Result:
        if isinstance(op, GetOp):
            found = self._find(op.namespace, op.key)
            return _item(found) if found else None
        if isinstance(op, SearchOp):
            return self._search(op)
        if isinstance(op, ListNamespacesOp):
            return self._list_namespaces(op)
        raise ValueError(f"EngramStore cannot run {type(op).__name__}")

    # -- mapping --------------------------------------------------------------------------
    def user_of(self, namespace: tuple[str, ...]) -> str:
        """The engram user id a namespace belongs to."""
        if not isinstance(namespace, tuple) or not all(isinstance(n, str) and n for n in namespace):
            raise ValueError(f"a namespace is a tuple of non-empty strings, got {namespace!r}")
        if len(namespace) <= self.user_position:
            raise ValueError(
                f"namespace {namespace!r} has no element {self.user_position} (the user scope)"
            )
        user = namespace[self.user_position]
        if user == REGISTRY:
            raise ValueError(f"{REGISTRY!r} is reserved and cannot be a user scope")
        return user

    def _prepare_put(self, op: PutOp) -> tuple[str, str, dict[str, Any]] | None:
        user = self.user_of(op.namespace)
        if not isinstance(op.key, str) or not op.key:
            raise ValueError(f"a key must be a non-empty string, got {op.key!r}")
        if op.value is None:
            return None
        if not isinstance(op.value, Mapping):
            raise ValueError(f"a value must be a dict, got {type(op.value).__name__}")
        value = dict(op.value)
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the value for key {op.key!r} is not JSON data: {exc}") from exc
        return user, _index_text(value, op.index, self.index_fields), value

    # -- writes ---------------------------------------------------------------------------
    def _put(self, op: PutOp, prepared: tuple[str, str, dict[str, Any]] | None) -> None:
        namespace, key = tuple(op.namespace), op.key
        found = self._find(namespace, key)
        if prepared is None:
            if found is not None:
                self.memory.delete(found.id, found.scope.user_id)
                self._unregister_if_empty(namespace)
            return
        user, text, value = prepared
        meta = {"namespace": list(namespace), "key": key, "value": value}
        if found is not None:
            meta["updated_at"] = datetime.now(UTC).isoformat()
            self.memory.update(found.id, user, text=text, metadata=meta)
            return
        self.memory.remember(text, user, agent_id="/".join(namespace), metadata=meta)
        self._register(namespace)

    def _registry(self) -> dict[tuple[str, ...], str]:
        return {
            tuple(e.metadata.extra["namespace"]): e.id
            for e in self.memory.list(REGISTRY, include_superseded=True)
        }

    def _register(self, namespace: tuple[str, ...]) -> None:
        if namespace not in self._registry():
            self.memory.remember(
                "/".join(namespace), REGISTRY, metadata={"namespace": list(namespace)}
            )

    def _unregister_if_empty(self, namespace: tuple[str, ...]) -> None:
        if not self._items(self.user_of(namespace), namespace, exact=True):
            entry = self._registry().get(namespace)
            if entry is not None:
                self.memory.delete(entry, REGISTRY)

    # -- reads ----------------------------------------------------------------------------
    def _items(self, user: str, prefix: tuple[str, ...], exact: bool = False) -> list[Engram]:
        return [
            e
            for e in self.memory.list(user, include_superseded=True)
            if _in_namespace(e, prefix, exact)
        ]

    def _find(self, namespace: tuple[str, ...], key: str) -> Engram | None:
        user = self.user_of(tuple(namespace))
        return next(
            (
                e
                for e in self._items(user, tuple(namespace), exact=True)
                if e.metadata.extra.get("key") == key
            ),
            None,
        )

    def _users(self, prefix: tuple[str, ...]) -> list[str]:
        if len(prefix) > self.user_position:
            return [self.user_of(prefix)]
        return sorted(
            {ns[self.user_position] for ns in self._registry() if ns[: len(prefix)] == prefix}
        )

    def _search(self, op: SearchOp) -> list[SearchItem]:
        prefix = tuple(op.namespace_prefix)
        if op.limit < 0 or op.offset < 0:
            raise ValueError("limit and offset must be >= 0")
        found: list[tuple[Engram, float | None]] = []
        for user in self._users(prefix):
            if op.query:
                hits = self.memory.recall(op.query, user, k=1000, include_superseded=True)
                found += [(h.engram, h.score) for h in hits if _in_namespace(h.engram, prefix)]
            else:
                found += [(e, None) for e in self._items(user, prefix)]
        if op.filter:
            found = [(e, s) for e, s in found if _matches(e.metadata.extra["value"], op.filter)]
        if op.query:
            found.sort(key=lambda pair: -(pair[1] or 0.0))
        page = found[op.offset : op.offset + op.limit]
        return [_item(e, score=score) for e, score in page]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        spaces = set()
        for namespace in self._registry():
            if all(_condition(c, namespace) for c in op.match_conditions or ()):
                spaces.add(namespace[: op.max_depth] if op.max_depth else namespace)
        return sorted(spaces)[op.offset : op.offset + op.limit]


def _index_text(value: dict[str, Any], index: Any, default: list[str] | None) -> str:
    """The text recall searches for an item: the indexed fields' text, else the value's
    top-level strings, else the whole value as JSON."""
    fields = default if index is None else (index or None)
    if fields:
        parts = [t for f in fields for t in get_text_at_path(value, f)]
    else:
        parts = [v for v in value.values() if isinstance(v, str)]
    text = "\n".join(p for p in parts if p.strip())
    return text or json.dumps(value, ensure_ascii=False, sort_keys=True)


def _in_namespace(engram: Engram, prefix: tuple[str, ...], exact: bool = False) -> bool:
    namespace = tuple(engram.metadata.extra.get("namespace") or ())
    if "key" not in engram.metadata.extra or namespace[: len(prefix)] != prefix:
        return False
    return len(namespace) == len(prefix) if exact else True


def _item(engram: Engram, **score: float | None) -> Item:
    """The engram as a LangGraph Item (a SearchItem when a `score` is given)."""
    extra = engram.metadata.extra
    updated = extra.get("updated_at")
    return (SearchItem if score else Item)(
        namespace=tuple(extra["namespace"]),
        key=extra["key"],
        value=extra["value"],
        created_at=engram.metadata.created_at,
        updated_at=datetime.fromisoformat(updated) if updated else engram.metadata.created_at,
        **score,
    )


def _matches(value: Any, wanted: Any) -> bool:
    """LangGraph's filter semantics: equality (nested dicts recursively, lists element-wise),
    or a dict of $eq/$ne/$gt/$gte/$lt/$lte operators."""
    if isinstance(wanted, Mapping):
        if any(k.startswith("$") for k in wanted):
            return all(_compare(value, op, arg) for op, arg in wanted.items())
        return isinstance(value, Mapping) and all(
            _matches(value.get(k), v) for k, v in wanted.items()
        )
    if isinstance(wanted, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(wanted)
            and all(_matches(v, w) for v, w in zip(value, wanted, strict=True))
        )
    return value == wanted


def _compare(value: Any, op: str, arg: Any) -> bool:
    if op not in OPERATORS:
        raise ValueError(f"unsupported filter operator {op!r} (use one of {OPERATORS})")
    if op in ("$eq", "$ne"):
        return (value == arg) == (op == "$eq")
    if value is None:
        return False
    a, b = float(value), float(arg)
    return {"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op]


def _condition(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if not path:
        return True
    if len(namespace) < len(path):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    return all(p in ("*", n) for p, n in zip(path, part, strict=True))
