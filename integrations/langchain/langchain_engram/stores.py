"""EngramStore: the episodic store as a LangGraph `BaseStore`, for `create_agent(store=...)`.

Namespaces map to user scopes: the namespace element at `user_position` (default 0, so
`("ana", "memories")` belongs to user "ana"; `("users",)` puts every item in one scope "users")
is the engram user id, and the whole namespace, the key and the value are kept in the engram's
metadata. Each item is one engram, whose text (what recall searches) is taken from the value's
indexed fields. Search is recall: sketch-tag filtering, then dense ranking, then the value
filter. A prefix shorter than the user element (`search(())`, `list_namespaces()`) spans every
user, unless the store is bound to one (`EngramStore(..., user_id="ana")`), which then refuses
any namespace of another user.

TTL follows LangGraph's contract: `ttl` minutes on put (or `TTLConfig.default_ttl`), expired
items are invisible at once and deleted by `sweep_ttl()` (or the sweeper thread), and reads
refresh the expiry unless `refresh_ttl=False` (or `TTLConfig.refresh_on_read=False`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from engram_agents import EngramMemory as CoreMemory
from engram_agents import InvalidInputError
from engram_agents.chat import (
    MAX_K,
    Engram,
    StoreConfig,
    check_flag,
    check_id,
    check_metadata,
    check_text,
)
from langchain_engram import _store_checks as checks
from langchain_engram import _store_items as store_items
from langchain_engram._store_checks import InvalidNamespace

# A store item is addressed by (namespace, key), so the episodic lifecycle must not fold two
# items into one: no near-duplicate reinforcement, no supersede.
ITEM_CONFIG = StoreConfig(dedup_window_s=0, supersede_similarity=1.0, supersede_keyword_overlap=1.0)
REGISTRY = "langgraph"  # scope listing the namespaces; LangGraph reserves it as a root label
OPS = (GetOp, PutOp, SearchOp, ListNamespacesOp)


class EngramStore(BaseStore):
    """LangGraph long-term memory backed by engram-agents' episodic store.

    ```python
    store = EngramStore("store.db")                   # SQLite; EngramStore(memory=...) too
    store.put(("ana", "memories"), "m1", {"text": "I adopted a greyhound, Pixel", "kind": "pet"})
    store.search(("ana",), query="what is my dog called?", filter={"kind": "pet"})
    agent = create_agent(model, tools, store=store)   # tools reach it as runtime.store
    ```
    """

    supports_ttl = True

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        memory: CoreMemory | None = None,
        encoder: Any = None,
        user_position: int = 0,
        index_fields: list[str] | None = None,
        user_id: str | None = None,
        ttl: TTLConfig | None = None,
    ) -> None:
        """`path`/`encoder` open a store (SQLite); or pass an open EngramMemory built with
        `config=ITEM_CONFIG`, or `EngramMemory.remote(...)` to a server serving that config.
        `index_fields` are the value paths recall searches (default: the value's top-level
        strings), overridable per put with `index=` (`index=False`: the item is kept and
        filtered but ranks after every indexed item in a query search).
        `user_id` binds the store to that user's namespaces; `ttl` sets default expiry,
        refresh on read and the sweeper's interval."""
        if memory is None:
            memory = CoreMemory(path, encoder=encoder, config=ITEM_CONFIG)
        elif path is not None or encoder is not None:
            raise InvalidInputError("pass either memory or path/encoder, not both")
        cfg = memory.config  # a server's (EngramMemory.remote) is asked for
        if (cfg.dedup_window_s, cfg.supersede_similarity) != (0, 1.0):
            raise InvalidInputError(
                "EngramStore needs a memory that keeps items apart: build it with "
                "EngramMemory(..., config=langchain_engram.stores.ITEM_CONFIG), or serve one "
                "with `engram-agents serve --config FILE` holding "
                '{"dedup_window_s": 0, "supersede_similarity": 1.0, '
                '"supersede_keyword_overlap": 1.0}'
            )
        if user_position < 0:
            raise InvalidInputError(f"user_position must be >= 0, got {user_position}")
        self.memory = memory
        self.user_position = user_position
        self.index_fields = index_fields
        self.user_id = None if user_id is None else check_id(user_id)  # the core's one id rule
        self.ttl_config = ttl
        self._lock = threading.RLock()  # a put (find, then write) is one step in this process
        self._sweeper: threading.Thread | None = None
        self._stop_sweeping = threading.Event()

    # -- BaseStore ------------------------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Results in the order of the ops. As in LangGraph's own stores, the reads see the
        store as it was before the batch and the puts follow, in order (the last put of a key
        wins); every op is checked before any runs, so a bad one leaves the store (and its
        audit log) as it was."""
        if isinstance(ops, OPS) or not isinstance(ops, Iterable):
            raise InvalidInputError(f"batch takes a list of ops, got {type(ops).__name__}")
        ops = list(ops)
        for n, op in enumerate(ops):
            if not isinstance(op, OPS):
                raise InvalidInputError(f"op {n}: EngramStore cannot run {type(op).__name__}")
            self._check_read(op)
        prepared = {i: self._prepare_put(op) for i, op in enumerate(ops) if isinstance(op, PutOp)}
        with self._lock:
            results = [None if isinstance(op, PutOp) else self._read(op) for op in ops]
            for i, put in prepared.items():
                self._put(ops[i], put)
            return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    def _read(self, op: Op) -> Result:
        if isinstance(op, GetOp):
            found = self._find(op.namespace, op.key)
            if found is not None and op.refresh_ttl:
                found = self._refresh(found)
            return store_items.as_item(found) if found else None
        if isinstance(op, SearchOp):
            return self._search(op)
        return self._list_namespaces(op)

    def _check_read(self, op: Op) -> None:
        """Checks a read op (a put is checked by `_prepare_put`)."""
        if isinstance(op, GetOp):
            self.user_of(op.namespace)
            checks.key(op.key)
        elif isinstance(op, SearchOp):
            prefix = checks.namespace(op.namespace_prefix)
            if len(prefix) > self.user_position:
                self.user_of(prefix)
            if op.query is not None:
                check_text(op.query, self.memory.config.max_text_bytes, "query")
            if op.filter is not None:
                store_items.check_filter(op.filter)
            checks.page(op.limit, op.offset)
        elif isinstance(op, ListNamespacesOp):
            for condition in op.match_conditions or ():
                checks.namespace(condition.path, f"{condition.match_type} path")
            checks.max_depth(op.max_depth)
            checks.page(op.limit, op.offset)
        if not isinstance(op, ListNamespacesOp | PutOp):
            check_flag(op.refresh_ttl, "refresh_ttl")

    # -- mapping --------------------------------------------------------------------------
    def user_of(self, namespace: tuple[str, ...]) -> str:
        """The engram user id a namespace belongs to."""
        checks.namespace(namespace)
        if len(namespace) <= self.user_position:
            raise InvalidNamespace(
                f"namespace {namespace!r} has no element {self.user_position} (the user scope)"
            )
        user = namespace[self.user_position]
        try:
            check_id(user, f"namespace element {self.user_position} (the user id)")
        except InvalidInputError as exc:
            raise InvalidNamespace(f"namespace {namespace!r}: {exc}") from None
        if user == REGISTRY:
            raise InvalidNamespace(f"{REGISTRY!r} is reserved and cannot be a user scope")
        if self.user_id is not None and user != self.user_id:
            raise InvalidNamespace(
                f"this EngramStore is bound to user {self.user_id!r}; "
                f"namespace {namespace!r} belongs to {user!r}"
            )
        return user

    def _prepare_put(self, op: PutOp) -> tuple[str, str, dict[str, Any]] | None:
        """Checks a put with the core's rules (the value as metadata: JSON data, finite
        numbers); returns the user, the text to index and the value (None for a delete)."""
        checks.ttl(op.ttl)
        user = self.user_of(op.namespace)
        key = checks.key(op.key)
        if op.value is None:
            return None
        if not isinstance(op.value, Mapping):
            raise InvalidInputError(
                f"the value for key {key!r} must be a dict, got {type(op.value).__name__}"
            )
        value = check_metadata(dict(op.value), f"the value for key {key!r}")
        checks.index(op.index)
        text = store_items.index_text(value, op.index, self.index_fields)
        limit = self.memory.config.max_text_bytes
        return user, check_text(text, limit, f"the indexed text of key {key!r}"), value

    # -- writes ---------------------------------------------------------------------------
    def _put(self, op: PutOp, prepared: tuple[str, str, dict[str, Any]] | None) -> None:
        namespace, key = tuple(op.namespace), op.key
        found = self._find(namespace, key, expired=True)
        if found is not None and (prepared is None or store_items.expired(found)):
            self.memory.delete(found.id, found.scope.user_id)  # an expired item is gone already
            found = None
        if prepared is None:
            self._unregister_if_empty(namespace)
            return
        user, text, value = prepared
        meta = {
            "namespace": list(namespace),
            "key": key,
            "value": value,
            "indexed": op.index is not False,
            "ttl": op.ttl,
            "expires_at": store_items.expiry(op.ttl),
        }
        if found is not None:
            meta["updated_at"] = datetime.now(UTC).isoformat()
            self.memory.update(found.id, user, text=text, metadata=meta)
            return
        self.memory.remember(text, user, agent_id="/".join(namespace), metadata=meta)
        self._register(namespace)

    # -- TTL ------------------------------------------------------------------------------
    def _refresh(self, engram: Engram) -> Engram:
        """The item with its expiry pushed `ttl` minutes past now (items without a TTL as
        they are)."""
        ttl = engram.metadata.extra.get("ttl")
        if ttl is None:
            return engram
        return self.memory.update(
            engram.id, engram.scope.user_id, metadata={"expires_at": store_items.expiry(ttl)}
        )

    def sweep_ttl(self) -> int:
        """Delete every expired item (of the bound user only, when the store has one);
        returns how many went."""
        with self._lock:
            swept = 0
            for user in self._users(()):
                expired = [e for e in self._items(user, (), expired=True) if store_items.expired(e)]
                if expired:
                    swept += self.memory.delete([e.id for e in expired], user)
                for namespace in {tuple(e.metadata.extra["namespace"]) for e in expired}:
                    self._unregister_if_empty(namespace)
            return swept

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Sweep in a daemon thread every `sweep_interval_minutes` (default: the TTLConfig's
        `sweep_interval_minutes`, else 5) until `stop_ttl_sweeper()`."""
        minutes = sweep_interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes")
        interval = 60.0 * (minutes or 5)
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        self._stop_sweeping.clear()

        def sweep_until_stopped() -> None:
            while not self._stop_sweeping.wait(interval):
                self.sweep_ttl()

        self._sweeper = threading.Thread(target=sweep_until_stopped, daemon=True)
        self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; True once it has stopped (or none was running)."""
        self._stop_sweeping.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout)
        return self._sweeper is None or not self._sweeper.is_alive()

    # -- namespaces -----------------------------------------------------------------------
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
        if not self._items(self.user_of(namespace), namespace, exact=True, expired=True):
            entry = self._registry().get(namespace)
            if entry is not None:
                self.memory.delete(entry, REGISTRY)

    # -- reads ----------------------------------------------------------------------------
    def _items(
        self, user: str, prefix: tuple[str, ...], exact: bool = False, expired: bool = False
    ) -> list[Engram]:
        """The user's items under `prefix` (`expired`: those past their TTL too)."""
        return [
            e
            for e in self.memory.list(user, include_superseded=True)
            if store_items.in_namespace(e, prefix, exact)
            and (expired or not store_items.expired(e))
        ]

    def _find(self, namespace: tuple[str, ...], key: str, expired: bool = False) -> Engram | None:
        user = self.user_of(tuple(namespace))
        return next(
            (
                e
                for e in self._items(user, tuple(namespace), exact=True, expired=expired)
                if e.metadata.extra.get("key") == key
            ),
            None,
        )

    def _users(self, prefix: tuple[str, ...]) -> list[str]:
        if len(prefix) > self.user_position:
            return [self.user_of(prefix)]
        return sorted(
            {ns[self.user_position] for ns in self._namespaces() if ns[: len(prefix)] == prefix}
        )

    def _namespaces(self) -> list[tuple[str, ...]]:
        """The namespaces holding items, of the bound user only when the store has one."""
        return [
            ns
            for ns in self._registry()
            if len(ns) > self.user_position and self.user_id in (None, ns[self.user_position])
        ]

    def _search(self, op: SearchOp) -> list[SearchItem]:
        prefix = op.namespace_prefix
        found: list[tuple[Engram, float | None]] = []
        for user in self._users(prefix):
            items = self._items(user, prefix)
            if op.query:
                scores = {
                    h.engram.id: h.score
                    for h in self.memory.recall(op.query, user, k=MAX_K, include_superseded=True)
                }
                # unindexed items (index=False) rank after the others, unscored, as in LangGraph
                found += [(e, scores.get(e.id) if store_items.indexed(e) else None) for e in items]
            else:
                found += [(e, None) for e in items]
        if op.filter:
            found = [
                (e, s)
                for e, s in found
                if store_items.matches(e.metadata.extra["value"], op.filter)
            ]
        if op.query:  # best first; unscored items keep their order, last
            found.sort(key=lambda pair: (pair[1] is None, -(pair[1] or 0.0)))
        page = found[op.offset : op.offset + op.limit]
        if op.refresh_ttl:
            page = [(self._refresh(e), score) for e, score in page]
        return [store_items.as_item(e, score=score) for e, score in page]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        spaces = set()
        for namespace in self._namespaces():
            if all(store_items.namespace_matches(c, namespace) for c in op.match_conditions or ()):
                spaces.add(namespace[: op.max_depth] if op.max_depth else namespace)
        return sorted(spaces)[op.offset : op.offset + op.limit]
