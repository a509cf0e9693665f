"""EngramMemory: the one object users hold. Every verb is scoped by user_id (plus optional
agent_id / session_id) and has an async twin (`aremember`, `arecall`, ...) that runs the same code
in a worker thread, so the two can never drift apart."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from engram_agents.erasure_feed import ErasureFeed, check_cursor, erasure_feed
from engram_agents.store.backends.base import Backend
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.crypto import Cipher
from engram_agents.store.encoders import resolve_encoder
from engram_agents.store.errors import InvalidInputError
from engram_agents.store.ranker import RecallItem
from engram_agents.store.records import (
    ConsolidationReport,
    Engram,
    Evidence,
    MemoryItem,
    RecallFilters,
    RecallHit,
    scope_of,
)
from engram_agents.store.reply_use import ReplyUse
from engram_agents.store.sketch import extract_sketch
from engram_agents.store.store import EpisodicStore
from engram_agents.store.timeexpr import parse_when
from engram_agents.store.validation import (
    check_export_path,
    check_flag,
    check_id,
    check_ids,
    check_metadata,
    check_tags,
    check_text,
    export_file,
    memory_item,
    message_item,
    optional_flag,
    optional_id,
    recalled_ids,
    time_range_of,
    unchecked_item,
)
from engram_agents.verbs import wrap_verbs

Message = dict[str, Any]


def default_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("engram-agents")) / "memory.db"


class EngramMemory:
    """Long-term episodic memory for agents (see docs/episodic-store.md)."""

    # The store lives in this process (its files, learned weights and erase hooks are here);
    # False for `EngramMemory.remote`, whose server keeps them.
    in_process: bool = True

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        backend: Backend | None = None,
        encoder: Any = None,
        encryption_key: str | bytes | None = None,
        config: StoreConfig | None = None,
    ) -> None:
        if backend is None:
            from engram_agents.store.backends.sqlite import SQLiteBackend

            backend = SQLiteBackend(path or default_path())
        elif path is not None:
            raise InvalidInputError("pass either path (SQLite) or backend, not both")
        cipher = Cipher.from_env_or_key(encryption_key)
        self.store = EpisodicStore(backend, resolve_encoder(encoder), config, cipher)
        self._model_users: dict[str, dict[str, str]] = {}  # per attached model (attach_model)

    @classmethod
    def chroma(
        cls,
        path: str | Path | None = None,
        *,
        host: str | None = None,
        port: int = 8000,
        collection: str = "engrams",
        **kwargs: Any,
    ) -> EngramMemory:
        """Chroma backend: a local PersistentClient at `path`, or an HttpClient to `host:port`."""
        from engram_agents.store.backends.chroma import ChromaBackend

        return cls(
            backend=ChromaBackend(path=path, host=host, port=port, name=collection), **kwargs
        )

    @staticmethod
    def encrypt_store(path: str | Path, encryption_key: str | bytes | None = None) -> int:
        """Encrypt an existing plaintext SQLite store in place, in one transaction (all rows or
        none), and scrub the plaintext from the file; returns how many engrams were sealed.
        Open it with the same key afterwards. The key defaults to ENGRAM_ENCRYPTION_KEY."""
        from engram_agents.store.migrate import encrypt_sqlite_store

        return encrypt_sqlite_store(path, Cipher.required(encryption_key, "encrypt_store"))

    @classmethod
    def remote(
        cls,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        erasure_poll: float | None = 2.0,
    ) -> EngramMemory:
        """The same verbs (and async twins, records and errors) against an `engram-agents
        serve` server at `url` (pip install engram-agents[server]). A model attached to it
        (`attach_model`, `consolidate_into_model`) forgets what the server erases, checked
        before each call and every `erasure_poll` seconds (None: only before calls)."""
        from engram_agents.remote import RemoteMemory

        return RemoteMemory(url, api_key=api_key, timeout=timeout, erasure_poll=erasure_poll)

    @staticmethod
    def key_tags_per_user(path: str | Path, encryption_key: str | bytes | None = None) -> int:
        """Move an encrypted SQLite store made before per-user tag keys onto them (equal tags
        of two users then hash differently), in one transaction; returns how many engrams were
        re-sealed. Such stores still open and search as they are until this is run."""
        from engram_agents.store.migrate import key_tags_per_user

        return key_tags_per_user(path, Cipher.required(encryption_key, "key_tags_per_user"))

    @property
    def config(self) -> StoreConfig:
        """The store's settings (dedup and supersede thresholds, ranking, limits): what code
        built on the memory checks before relying on them, here as on a server."""
        return self.store.config

    # ------------------------------------------------------------------ write
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
    ) -> Engram | list[Engram]:
        """Remember a text (returns its engram) or chat messages (returns one engram each)."""
        when = parse_when(event_time) if event_time is not None else None
        metadata = check_metadata(metadata)
        redact = optional_flag(redact, "redact")
        if isinstance(content, str | bytes | bytearray):
            items = [unchecked_item(content)]
        elif isinstance(content, Sequence) and content:
            items = [message_item(m, n) for n, m in enumerate(content)]
        else:
            raise InvalidInputError("content must be a non-empty string or list of messages")
        for item in items:
            item.event_time = when
            item.metadata = {**item.metadata, **metadata}
            item.evidence = list(evidence or [])
        scope = scope_of(user_id, agent_id, session_id)
        stored = self.store.remember_many(scope, items, redact)
        return stored[0] if isinstance(content, str | bytes | bytearray) else stored

    def remember_many(
        self,
        items: Iterable[MemoryItem | dict[str, Any] | str],
        user_id: str,
        *,
        agent_id: str | None = None,
        session_id: str | None = None,
        redact: bool | None = None,
    ) -> list[Engram]:
        """Bulk ingestion: one batched encode and one transaction for all items."""
        if isinstance(items, str | bytes | dict | MemoryItem) or not isinstance(items, Iterable):
            raise InvalidInputError(
                f"remember_many takes a list of items, got one {type(items).__name__}: "
                "use remember() for a single text"
            )
        parsed = [memory_item(item, n) for n, item in enumerate(items)]
        scope = scope_of(user_id, agent_id, session_id)
        return self.store.remember_many(scope, parsed, optional_flag(redact, "redact"))

    # ------------------------------------------------------------------ consent
    def set_consent(self, user_id: str, remember: bool) -> None:
        """Switch persistent memory off (False) or back on (True) for a user. While it is off,
        `remember` and `remember_many` raise `ConsentError` and store nothing; recall, list,
        export, update, feedback, delete and forget keep working on what is stored. The
        choice is kept in the store and each change is recorded in the audit log."""
        self.store.set_consent(check_id(user_id), check_flag(remember, "remember"))

    def consent(self, user_id: str) -> bool:
        """Whether persistent memory is on for the user (the default)."""
        return self.store.consent(check_id(user_id))

    # ------------------------------------------------------------------ read
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
    ) -> list[RecallHit]:
        """Best-first engrams for the query, each with its score and the matched tags.
        Time phrases in the query ("last week") favour engrams from then; `time_range` filters.
        The user is always a boundary; `agent_id` / `session_id`, when given, are boundaries too
        (only engrams remembered by that agent / first said in that session), else every
        agent's and session's engrams of the user are candidates."""
        keywords = {
            "time_range": time_range,
            "tags": tags,
            "agent_id": agent_id,
            "session_id": session_id,
            "tier": tier,
            "include_superseded": include_superseded,
        }
        item = RecallItem.checked(query, user_id, k, None, filters, keywords, now)
        return self.store.recall_item(item)

    def get(self, engram_id: str, user_id: str) -> Engram:
        return self.store.get(check_id(user_id), check_id(engram_id, "engram_id"))

    def list(
        self,
        user_id: str,
        *,
        include_superseded: bool = False,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> list[Engram]:
        """The user's engrams, oldest first (only one agent's / session's when given)."""
        filters = RecallFilters(
            agent_id=optional_id(agent_id, "agent_id"),
            session_id=optional_id(session_id, "session_id"),
            include_superseded=check_flag(include_superseded, "include_superseded"),
        )
        return self.store.list(check_id(user_id), filters)

    def export(self, user_id: str, path: str | Path | None = None) -> dict[str, Any]:
        """All of a user's engrams and audit trail as JSON data (also written to `path`)."""
        check_id(user_id)
        if (path := check_export_path(path)) is None:
            return self.store.export(user_id)
        with export_file(path) as out:  # an unwritable path is refused before the audit entry
            data = self.store.export(user_id)
            json.dump(data, out, indent=2, ensure_ascii=False)
        return data

    # ------------------------------------------------------------------ change
    def update(
        self,
        engram_id: str,
        user_id: str,
        *,
        text: str | None = None,
        metadata: dict[str, Any] | None = None,
        event_time: datetime | str | None = None,
    ) -> Engram:
        when = parse_when(event_time) if event_time is not None else None
        metadata = None if metadata is None else check_metadata(metadata)
        return self.store.update(
            check_id(user_id), check_id(engram_id, "engram_id"), text, metadata, when
        )

    def delete(self, ids: str | Iterable[str], user_id: str) -> int:
        """Hard delete (record, vector, tag index); unknown ids delete nothing and raise."""
        return self.store.delete(check_id(user_id), check_ids(ids))

    def forget(
        self,
        user_id: str,
        *,
        session_id: str | None = None,
        tags: list[str] | None = None,
        time_range: Any = None,
        everything: bool = False,
    ) -> int:
        """Hard-delete everything matching the selectors; returns how many engrams went."""
        return self.store.forget(
            check_id(user_id),
            session_id=optional_id(session_id, "session_id"),
            tags=check_tags(tags),
            time_range=time_range_of(time_range, None),
            everything=check_flag(everything, "everything"),
        )

    def erasures(self, user_id: str, after: int = 0) -> ErasureFeed:
        """The user's deletes, forgets, scrubs and evictions after the cursor `after` (engram
        ids only, never text), and the cursor to pass next time: what a model kept elsewhere
        follows to forget erased facts (see `engram_agents.erasure_feed`)."""
        user_id, after = check_id(user_id), check_cursor(after)
        tail = self.store.backend.audit_after(user_id, after)
        if tail is None:  # a cursor beyond the log (the store was replaced): from the start
            after, tail = 0, self.store.backend.audit_after(user_id, 0) or []
        return erasure_feed(tail, after)

    def attach_model(self, lm: Any, model_users: Mapping[str, str] | None = None) -> None:
        """Make `delete` and `forget` also remove the facts they erase from `lm`'s per-user
        Engram tables and delta file (`EngramLM.forget_many`), right away rather than at the
        next `consolidate_into_model` (which attaches its model itself). `model_users` maps a
        store user to the model user holding its facts (default: the same id). Each removal is
        recorded in the audit log as "forget_in_model". An encrypted memory gives the model its
        key, so the facts in the user's delta file are sealed too."""
        from engram_agents.consolidation import forget_in_model

        if self.store.codec.cipher is not None:
            lm.set_encryption_key(self.store.codec.cipher)
        key = f"model:{id(lm)}"
        users = self._model_users.setdefault(key, {})
        users.update(model_users or {})
        self.store.on_erase(key, functools.partial(forget_in_model, lm, users))

    def feedback(
        self, ids: str | Iterable[str], user_id: str, useful: bool = True
    ) -> FusionWeights:
        """Say whether recalled engrams helped; returns the user's re-learned fusion weights."""
        return self.store.feedback(check_id(user_id), check_ids(ids), check_flag(useful, "useful"))

    def observe_reply(
        self,
        reply: str,
        user_id: str,
        recalled: Sequence[RecallHit | str],
        *,
        query: str | None = None,
    ) -> ReplyUse:
        """Learn, without labels, from which `recalled` memories (hits or engram ids) the
        model's `reply` used: feedback worth a quarter of an explicit judgement
        (`StoreConfig.reply_feedback_share`) for the used ones, and the fusion weights learn what
        set them apart from the unused ones. The query's words (`query`, and the hits' matched
        tags) do not count as use. Returns each engram's use score and which counted as used."""
        check_id(user_id)
        limit = self.store.config.max_text_bytes
        reply = check_text(reply, limit, "reply")
        ids, known = recalled_ids(recalled)
        if query:
            known |= set(extract_sketch(check_text(query, limit, "query")))
        if not ids:
            return ReplyUse(scores={}, used=[], weights=self.store.weights(user_id))
        return self.store.observe_reply(user_id, reply, ids, known)

    def consolidate(self, user_id: str) -> ConsolidationReport:
        return self.store.consolidate(check_id(user_id))

    def verify_audit(self) -> int:
        return self.store.verify_audit()

    def close(self) -> None:
        self.store.backend.close()

    def __enter__(self) -> EngramMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


wrap_verbs(EngramMemory)
