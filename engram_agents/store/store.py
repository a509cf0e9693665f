"""EpisodicStore: the write path (redact, encode, sketch, dedupe, supersede, persist), two-stage
recall (sketch filter, dense rank, fused score), feedback, consolidation and user control.
It is synchronous and thread-safe; `EngramMemory` adds the async twins and the friendly API.

Every change is a read-compute-write whose write is conditional on the user's revision at the
read: if another handle or process changed the user's engrams in between (a delete, a duplicate
being stored), the write is refused and the whole step runs again on fresh rows. So a concurrent
delete is never undone by a stale copy, and dedupe is decided against the state that is written."""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, Field

from engram_agents.store import erasure, fusion, lifecycle
from engram_agents.store.audit import verify
from engram_agents.store.backends.base import Backend
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.crypto import Cipher
from engram_agents.store.encoders import Encoder, encode_checked
from engram_agents.store.errors import (
    ConflictError,
    ConsentError,
    EncryptionError,
    InvalidInputError,
    NotFoundError,
)
from engram_agents.store.index import ScopeIndex
from engram_agents.store.records import (
    Engram,
    EngramMetadata,
    Evidence,
    RecallFilters,
    RecallHit,
    Scope,
    Tier,
    TimeRange,
    Version,
    as_utc,
    utcnow,
)
from engram_agents.store.redact import redact
from engram_agents.store.rows import TAGS_PER_USER, AuditEvent, Codec, EngramRow
from engram_agents.store.sketch import ASKS, engram_sketch, extract_sketch
from engram_agents.store.timeexpr import query_time_range
from engram_agents.store.validation import check_id, check_k, check_metadata, check_text

T = TypeVar("T")
_ATTEMPTS = 50  # conflicting writers each lose at most once per write that lands, so this is ample


class MemoryItem(BaseModel):
    """One thing to remember (the unit of `remember_many`)."""

    text: str
    session_id: str | None = None
    agent_id: str | None = None
    event_time: datetime | None = None
    modality: str = "text"
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ConsolidationReport(BaseModel):
    promoted: list[str] = Field(default_factory=list)
    merged: dict[str, list[str]] = Field(default_factory=dict)
    evicted: list[str] = Field(default_factory=list)
    decayed: int = 0


class EpisodicStore:
    def __init__(
        self,
        backend: Backend,
        encoder: Encoder,
        config: StoreConfig | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        self.backend = backend
        self.encoder = encoder
        self.config = config or StoreConfig()
        self.codec = Codec(cipher)
        self._indexes: dict[str, ScopeIndex] = {}
        self._last_features: dict[str, OrderedDict[str, np.ndarray]] = {}
        self._erase_hooks: dict[str, Callable[[str, list[Engram]], int]] = {}
        self._lock = threading.RLock()
        self._check_key(cipher)

    # ---------------------------------------------------------------- plumbing
    def _check_key(self, cipher: Cipher | None) -> None:
        stored = self.backend.setting("", "cipher")
        if stored is None and cipher is not None:
            if self.backend.has_rows():
                raise EncryptionError(
                    "this store holds unencrypted engrams, so an encryption key cannot be used "
                    "with it (nothing was changed): open it without encryption_key (and unset "
                    "ENGRAM_ENCRYPTION_KEY), or encrypt it first with "
                    "EngramMemory.encrypt_store(path, key)"
                )
            scheme = {("", "cipher"): cipher.fingerprint, ("", "tag_keys"): TAGS_PER_USER}
            self.backend.write([], [], [], set(), scheme)
        elif stored is not None and cipher is None:
            raise EncryptionError(
                "this store is encrypted: pass encryption_key= or set ENGRAM_ENCRYPTION_KEY"
            )
        elif stored is not None and cipher is not None and stored != cipher.fingerprint:
            raise EncryptionError("wrong encryption key for this store")
        # Stores encrypted before per-user tag keys keep their one store-wide tag key (until
        # `EngramMemory.key_tags_per_user` re-hashes them).
        self.codec.per_user_tags = self.backend.setting("", "tag_keys") == TAGS_PER_USER

    def _setting(self, user_id: str, key: str) -> str | None:
        return self.codec.open_setting(user_id, key, self.backend.setting(user_id, key))

    def _index(self, user_id: str) -> ScopeIndex:
        revision = self.backend.revision(user_id)
        index = self._indexes.get(user_id)
        if index is None or index.revision != revision:
            index = ScopeIndex(self.encoder.dim, revision)
            index.upsert(list(self.backend.scan(user_id)))
            self._indexes[user_id] = index
        return index

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run a read-compute-write until its conditional write lands. A `ConflictError` means
        another writer changed the user's engrams after `attempt` read them: read again."""
        for n in range(_ATTEMPTS - 1):
            try:
                with self._lock:
                    return attempt()
            except ConflictError:
                time.sleep(random.uniform(0.0, min(0.05, 0.001 * 2**n)))
        with self._lock:  # the last try lets its ConflictError reach the caller
            return attempt()

    def _commit(
        self,
        user_id: str,
        read_at: int,
        upserts: list[EngramRow],
        deletes: list[str],
        events: list[AuditEvent],
        settings: dict[tuple[str, str], str] | None = None,
    ) -> None:
        """Persist in one transaction if the user's revision is still `read_at` (the revision
        read before the rows this write was computed from), then patch the cached index."""
        index = self._indexes.get(user_id)
        before = index.revision if index else None
        sealed = {k: self.codec.seal_setting(*k, v) for k, v in (settings or {}).items()}
        revision = self.backend.write(
            upserts, deletes, events, {user_id}, sealed, expect={user_id: read_at}
        )[user_id]
        if index is not None and before == revision - 1:
            index.remove(deletes)
            index.upsert(upserts)
            index.revision = revision
        else:
            self._indexes.pop(user_id, None)

    def _engrams(self, user_id: str, ids: list[str]) -> list[Engram]:
        rows = self.backend.get(user_id, ids)
        missing = set(ids) - {r.id for r in rows}
        if missing:
            raise NotFoundError(f"no engram {sorted(missing)[0]!r} for user {user_id!r}")
        return [self.codec.to_engram(r) for r in rows]

    def _vectors(self, user_id: str, ids: list[str]) -> np.ndarray:
        """Stored vectors of rows just read; a row deleted since then means a retry."""
        index = self._index(user_id)
        if not set(ids) <= index.pos.keys():
            raise ConflictError(f"user {user_id!r} changed while reading")
        return index.vectors[[index.pos[i] for i in ids]]

    # ---------------------------------------------------------------- write path
    def _prepare(self, scope: Scope, items: list[MemoryItem], redact_pii: bool) -> list[Engram]:
        engrams = []
        for n, item in enumerate(items):
            what = "text" if len(items) == 1 else f"item {n} text"
            text = check_text(item.text, self.config.max_text_bytes, what)
            found: list[str] = []
            if redact_pii:
                text, found = redact(text)
            event_time = as_utc(item.event_time) if item.event_time else None
            metadata = check_metadata(
                item.metadata, "metadata" if len(items) == 1 else f"item {n} metadata"
            )
            extra = {**metadata, **({"redacted": found} if found else {})}
            metadata = EngramMetadata(
                event_time=event_time,
                modality=item.modality,
                confidence=item.confidence,
                evidence=item.evidence,
                extra=extra,
            )
            item_scope = scope.model_copy(
                update={
                    "session_id": item.session_id or scope.session_id,
                    "agent_id": item.agent_id or scope.agent_id,
                }
            )
            engram = Engram(scope=item_scope, text=text, metadata=metadata)
            engram.sketch = engram_sketch(text, engram.when)
            engrams.append(engram)
        return engrams

    def remember_many(
        self, scope: Scope, items: list[MemoryItem], redact_pii: bool | None = None
    ) -> list[Engram]:
        """Store many items at once (one batched encode, one transaction). Returns, per item,
        the engram now holding it: a new one, or the existing one it reinforced."""
        if not items:
            raise InvalidInputError("nothing to remember: the list of items is empty")
        redact_pii = self.config.redact if redact_pii is None else redact_pii
        self._check_consent(scope.user_id)  # before encoding; checked again in the write
        engrams = self._prepare(scope, items, redact_pii)
        vectors = encode_checked(self.encoder, [e.text for e in engrams])
        return self._retrying(
            lambda: self._store_new(
                scope.user_id, [e.model_copy(deep=True) for e in engrams], vectors
            )
        )

    def _store_new(self, user_id: str, engrams: list[Engram], vectors: np.ndarray) -> list[Engram]:
        """Dedupe, supersede and store against the user's rows as of one revision (fresh copies
        of `engrams` each attempt: supersede notes are added to them)."""
        cfg = self.config
        index = self._index(user_id)
        read_at = index.revision
        self._check_consent(user_id)  # after the revision: a change of consent moves it
        changed: dict[str, tuple[Engram, np.ndarray]] = {}
        result: list[Engram] = []
        new_ids: list[str] = []
        events: list[AuditEvent] = []
        batch_vecs: list[np.ndarray] = []
        batch: list[Engram] = []

        def lookup(engram_id: str) -> Engram:
            if engram_id in changed:
                return changed[engram_id][0]
            rows = self.backend.get(user_id, [engram_id])
            if not rows:  # deleted since the index was read: compute again on fresh rows
                raise ConflictError(f"user {user_id!r} changed while reading")
            return self.codec.to_engram(rows[0])

        agents = [e.scope.agent_id for e in engrams]
        nearest = self._nearest_existing(index, vectors, agents)
        for engram, vector, existing in zip(engrams, vectors, nearest, strict=True):
            mine = [i for i, e in enumerate(batch) if e.scope.agent_id == engram.scope.agent_id]
            near = self._similar(
                existing, vector, [batch[i] for i in mine], [batch_vecs[i] for i in mine]
            )
            duplicate = next(
                (
                    other
                    for sim, other in near
                    if sim >= cfg.dedup_similarity
                    and abs((lookup(other).when - engram.when).total_seconds())
                    <= cfg.dedup_window_s
                ),
                None,
            )
            if duplicate is not None:
                kept = lifecycle.reinforce(lookup(duplicate), engram)
                changed[kept.id] = (kept, self._vector_of(index, kept.id, batch, batch_vecs))
                result.append(kept)
                events.append(AuditEvent(user_id, "reinforce", [kept.id]))
                continue
            for sim, other_id in near:  # most similar first; an update replaces one fact
                other = lookup(other_id)
                if other.is_active and lifecycle.supersedes(
                    engram, other, sim, cfg.supersede_similarity, cfg.supersede_keyword_overlap
                ):
                    other = other.model_copy(
                        update={
                            "superseded_by": engram.id,
                            "history": [
                                *other.history,
                                Version(action="superseded", engram_id=engram.id),
                            ],
                        }
                    )
                    changed[other.id] = (
                        other,
                        self._vector_of(index, other.id, batch, batch_vecs),
                    )
                    engram.history.append(
                        Version(action="supersedes", engram_id=other.id, text=other.text)
                    )
                    events.append(AuditEvent(user_id, "supersede", [other.id, engram.id]))
                    break
            changed[engram.id] = (engram, vector)
            batch.append(engram)
            batch_vecs.append(vector)
            new_ids.append(engram.id)
            result.append(engram)
        # Reinforcing an engram of this same batch must update the copy that gets stored.
        result = [changed[e.id][0] for e in result]
        events.insert(0, AuditEvent(user_id, "remember", new_ids, {"count": len(new_ids)}))
        rows = [self.codec.to_row(e, v) for e, v in changed.values()]
        self._commit(user_id, read_at, rows, [], events)
        return result

    def _similar(
        self, existing: list[tuple[float, str]], vector: np.ndarray, batch: list, batch_vecs: list
    ) -> list[tuple[float, str]]:
        """Existing or same-batch engrams similar enough to be duplicates or superseded."""
        floor = min(self.config.dedup_similarity, self.config.supersede_similarity)
        out = list(existing)
        if batch:
            sims = np.asarray(batch_vecs) @ vector
            out += [(float(s), batch[i].id) for i, s in enumerate(sims)]
        return sorted((p for p in out if p[0] >= floor), reverse=True)

    @staticmethod
    def _nearest_existing(
        index: ScopeIndex, vectors: np.ndarray, agents: list[str | None]
    ) -> list[list[tuple[float, str]]]:
        """For each new vector, its five nearest stored engrams of the same agent (one matrix
        product per batch): an agent's engram never reinforces or replaces another agent's, so
        an agent scope stays a boundary (see `RecallFilters`)."""
        size = len(index.ids)
        if not len(index):
            return [[] for _ in vectors]
        sims = vectors @ index.vectors[:size].T
        sims[:, ~index.alive[:size]] = -np.inf
        for agent in set(agents):
            other = np.fromiter((a != agent for a in index.agent[:size]), bool, size)
            sims[np.ix_([a == agent for a in agents], other)] = -np.inf
        n = min(5, size)
        top = np.argpartition(-sims, n - 1, axis=1)[:, :n]
        return [
            [(float(sims[r, i]), index.ids[i]) for i in top[r] if np.isfinite(sims[r, i])]
            for r in range(len(vectors))
        ]

    @staticmethod
    def _vector_of(index: ScopeIndex, engram_id: str, batch: list, vecs: list) -> np.ndarray:
        if engram_id in index.pos:
            return index.vectors[index.pos[engram_id]]
        return vecs[[e.id for e in batch].index(engram_id)]

    # ---------------------------------------------------------------- consent
    def consent(self, user_id: str) -> bool:
        """Whether persistent memory is on for the user (it is unless they switched it off)."""
        return self._setting(user_id, "consent") != "withdrawn"

    def set_consent(self, user_id: str, remember: bool) -> None:
        """Switch persistent memory on or off for the user; the change is in the audit log.
        Off: `remember` raises `ConsentError`; what is stored stays readable and deletable."""
        self._retrying(lambda: self._set_consent(user_id, remember))

    def _set_consent(self, user_id: str, remember: bool) -> None:
        read_at = self.backend.revision(user_id)
        event = AuditEvent(user_id, "consent", [], {"remember": remember})
        value = "granted" if remember else "withdrawn"
        self._commit(user_id, read_at, [], [], [event], {(user_id, "consent"): value})

    def _check_consent(self, user_id: str) -> None:
        if not self.consent(user_id):
            raise ConsentError(
                f"user {user_id!r} switched persistent memory off, so nothing new is remembered "
                "(recall, export, delete and forget still work); "
                f"set_consent({user_id!r}, True) switches it back on"
            )

    # ---------------------------------------------------------------- recall
    def recall(
        self,
        user_id: str,
        query: str,
        k: int = 10,
        filters: RecallFilters | None = None,
        now: datetime | None = None,
    ) -> list[RecallHit]:
        query = check_text(query, self.config.max_text_bytes, "query")
        k = check_k(k)
        filters = filters or RecallFilters()
        now = as_utc(now) if now else utcnow()
        qvec = encode_checked(self.encoder, [query])[0]
        query_tags = extract_sketch(query, now)
        with self._lock:
            hits, feats = self._rank(user_id, qvec, query_tags, query, k, filters, now)
            ids = [h.engram.id for h in hits]
            index = self._index(user_id)
            ts = utcnow().timestamp()
            self.backend.touch(ids, ts, [AuditEvent(user_id, "recall", ids, {"k": k})])
            index.touch(ids, ts)
            cache = self._last_features.setdefault(user_id, OrderedDict())
            for engram_id, x in zip(ids, feats, strict=True):
                cache[engram_id] = x
                cache.move_to_end(engram_id)
            while len(cache) > 1000:
                cache.popitem(last=False)
        return hits

    def _mask(self, user_id: str, index: ScopeIndex, filters: RecallFilters) -> np.ndarray:
        n = len(index.ids)
        f = index.fields
        mask = index.alive[:n].copy()
        if not filters.include_superseded:
            mask &= f["active"][:n]
        if filters.tier is not None:
            mask &= f["short"][:n] == (filters.tier == Tier.SHORT)
        if filters.time_range is not None:
            when = f["when_ts"][:n]
            if filters.time_range.start:
                mask &= when >= filters.time_range.start.timestamp()
            if filters.time_range.end:
                mask &= when < filters.time_range.end.timestamp()
        for attr, wanted in (("session", filters.session_id), ("agent", filters.agent_id)):
            if wanted is not None:
                mask &= np.fromiter((v == wanted for v in getattr(index, attr)), bool, n)
        for tag in self.codec.index_tags(filters.tags, user_id):
            required = np.zeros(n, dtype=bool)
            required[index.posting(tag)] = True
            mask &= required
        return mask

    def _rank(
        self,
        user_id: str,
        qvec: np.ndarray,
        query_tags: list[str],
        query: str,
        k: int,
        filters: RecallFilters,
        now: datetime,
    ) -> tuple[list[RecallHit], np.ndarray]:
        cfg = self.config
        index = self._index(user_id)
        if not len(index):
            return [], np.zeros((0, len(fusion.FEATURES)))
        mask = self._mask(user_id, index, filters)
        hashed = dict(zip(self.codec.index_tags(query_tags, user_id), query_tags, strict=True))
        large = len(index) > cfg.full_scan_below
        lexical = index.lexical(list(hashed), cfg.common_tag_fraction if large else 1.0)
        keep = mask[lexical.rows]
        rows, lex = lexical.rows[keep], lexical.lexical[keep]
        if not large:
            # Small scopes: every row is a candidate, the tag score is one signal among others.
            all_rows = np.flatnonzero(mask)
            scores = np.zeros(len(index.ids), dtype=np.float32)
            scores[rows] = lex
            rows, lex = all_rows, scores[all_rows]
        else:
            if rows.size > cfg.candidate_limit:
                top = np.argpartition(-lex, cfg.candidate_limit - 1)[: cfg.candidate_limit]
                rows, lex = rows[top], lex[top]
            few = max(cfg.min_candidates, k) if rows.size < max(cfg.min_candidates, k) else 0
            # An exact dense floor needs dense retrieval's own top among the candidates.
            floor = math.floor(cfg.dense_floor * k + 1e-9) if cfg.dense_floor_full_scan else 0
            wanted = max(few, floor)
            if wanted:
                extra = index.dense_top(qvec, wanted, mask)
                extra = np.setdiff1d(extra, rows)
                rows = np.concatenate([rows, extra])
                lex = np.concatenate([lex, np.zeros(extra.size, dtype=np.float32)])
        if rows.size == 0:
            return [], np.zeros((0, len(fusion.FEATURES)))
        size = len(index.ids)
        if rows.size > size // 4:  # one contiguous product beats gathering most rows
            sims = (index.vectors[:size] @ qvec)[rows]
        else:
            sims = index.vectors[rows] @ qvec
        time_range = query_time_range(query, now)
        in_context = index.in_context(rows, sims, qvec, cfg.context_weight)
        asks = np.isin(rows, index.posting(self.codec.index_tags([ASKS], user_id)[0]))
        x = fusion.features(
            index,
            rows,
            in_context,
            lex,
            now.timestamp(),
            cfg.recency_half_life_days,
            time_range,
            asks,
        )
        w = fusion.as_vector(self.weights(user_id))
        fused = x @ w
        order, floored = fusion.with_dense_floor(fused, sims, cfg.dense_floor, k)
        # A hit the floor moved up is scored as the best hit below it, so the scores fall in
        # the returned order and callers that sort or merge results by score keep the floor.
        ranked = np.maximum.accumulate(fused[order][::-1])[::-1]
        ids = [index.ids[rows[i]] for i in order]
        rows_out = self.backend.get(user_id, ids)
        engrams = {r.id: self.codec.to_engram(r) for r in rows_out}
        hits = []
        for i, by_floor, score in zip(order, floored, ranked, strict=True):
            engram = engrams[index.ids[rows[i]]]
            matched = sorted(hashed[t] for t in set(index.tags[rows[i]]) & hashed.keys())
            hits.append(
                RecallHit(
                    engram=engram,
                    score=float(score),
                    similarity=float(sims[i]),
                    matched_tags=matched,
                    explanation=self._explain(
                        float(sims[i]), matched, bool(x[i, 4]), bool(asks[i]), by_floor
                    ),
                    parts=self._parts(x[i] * w, float(score) - float(fused[i])),
                )
            )
        return hits, x[order]

    @staticmethod
    def _parts(weighted: np.ndarray, lifted: float) -> dict[str, float]:
        """Each signal times its weight; with what the dense floor added, they sum to the score."""
        parts = dict(zip(fusion.FEATURES, weighted.tolist(), strict=True))
        if lifted > 0:
            parts["dense_floor"] = lifted
        return parts

    @staticmethod
    def _explain(
        similarity: float, matched: list[str], in_time: bool, asks: bool, by_floor: bool
    ) -> str:
        parts = [f"similarity {similarity:.2f}"]
        parts.append(f"matched tags: {', '.join(matched)}" if matched else "no shared tags")
        if in_time:
            parts.append("inside the time the query names")
        if asks:
            parts.append("a question, ranked below statements")
        if by_floor:
            parts.append("kept among the most similar (dense floor)")
        return "; ".join(parts)

    def weights(self, user_id: str) -> FusionWeights:
        stored = self._setting(user_id, "fusion_weights")
        return FusionWeights.model_validate_json(stored) if stored else self.config.weights

    # ---------------------------------------------------------------- feedback
    def feedback(self, user_id: str, ids: list[str], useful: bool) -> FusionWeights:
        """Mark recalled engrams useful or not: adjusts their usefulness and learns the weights."""
        if not ids:
            raise InvalidInputError("feedback needs at least one engram id")
        return self._retrying(lambda: self._feedback(user_id, ids, useful))

    def _feedback(self, user_id: str, ids: list[str], useful: bool) -> FusionWeights:
        read_at = self.backend.revision(user_id)
        rows = self.backend.get(user_id, list(ids))
        missing = set(ids) - {r.id for r in rows}
        if missing:
            raise NotFoundError(f"no engram {sorted(missing)[0]!r} for user {user_id!r}")
        weights = self.weights(user_id)
        cache = self._last_features.get(user_id, {})
        for row in rows:
            row.usefulness = float(np.clip(row.usefulness + (1.0 if useful else -1.0), -5, 5))
            row.strength = 1.0
            if row.id in cache:
                x = cache[row.id]
                weights = fusion.learn(weights, x, useful, self.config.learning_rate)
        self._commit(
            user_id,
            read_at,
            rows,
            [],
            [AuditEvent(user_id, "feedback", list(ids), {"useful": useful})],
            {(user_id, "fusion_weights"): weights.model_dump_json()},
        )
        return weights

    # ---------------------------------------------------------------- consolidation
    def consolidate(self, user_id: str) -> ConsolidationReport:
        """Decay what was not used, merge overlapping short-term engrams into long-term ones,
        promote reactivated or useful ones, and evict the least recently used beyond capacity."""
        return self._retrying(lambda: self._consolidate(user_id))

    def _consolidate(self, user_id: str) -> ConsolidationReport:
        cfg = self.config
        report = ConsolidationReport()
        index = self._index(user_id)
        read_at = index.revision
        last = float(self._setting(user_id, "last_consolidation") or 0.0)
        engrams = {e.id: e for e in self.list(user_id, include_superseded=True, log=False)}
        if not engrams.keys() <= index.pos.keys():
            raise ConflictError(f"user {user_id!r} changed while consolidating")
        vectors = {i: index.vectors[index.pos[i]] for i in engrams}
        upserts: dict[str, tuple[Engram, np.ndarray]] = {}
        deletes: list[str] = []
        for engram in engrams.values():
            used_at = engram.stats.last_access
            if used_at is None or used_at.timestamp() <= last:
                stats = engram.stats.model_copy(
                    update={
                        "strength": engram.stats.strength * cfg.decay,
                        "usefulness": engram.stats.usefulness * cfg.decay,
                    }
                )
                engrams[engram.id] = engram.model_copy(update={"stats": stats})
                upserts[engram.id] = (engrams[engram.id], vectors[engram.id])
                report.decayed += 1
        short = [e for e in engrams.values() if e.tier == Tier.SHORT and e.is_active]
        for agent in dict.fromkeys(e.scope.agent_id for e in short):  # merge within an agent
            own = [e for e in short if e.scope.agent_id == agent]
            groups = lifecycle.merge_groups(
                own,
                np.stack([vectors[e.id] for e in own]),
                cfg.merge_similarity,
                cfg.merge_keyword_overlap,
            )
            for group in groups:
                members = [own[i] for i in group]
                merged, vector = lifecycle.merge(
                    members, np.stack([vectors[e.id] for e in members])
                )
                upserts[merged.id] = (merged, vector)
                for e in members:
                    upserts.pop(e.id, None)
                    deletes.append(e.id)
                report.merged[merged.id] = [e.id for e in members]
        gone = set(deletes)
        short = [e for e in short if e.id not in gone]
        for e in short:
            current = upserts.get(e.id, (engrams[e.id],))[0]
            if e.stats.activations >= cfg.promote_activations or e.stats.usefulness > 0:
                upserts[e.id] = (current.model_copy(update={"tier": Tier.LONG}), vectors[e.id])
                report.promoted.append(e.id)
        remaining = [e for e in short if e.id not in report.promoted]
        overflow = len(remaining) - cfg.short_term_capacity
        if overflow > 0:
            by_use = sorted(
                remaining,
                key=lambda e: (e.stats.last_access or e.metadata.created_at).timestamp(),
            )
            for e in by_use[:overflow]:
                upserts.pop(e.id, None)
                deletes.append(e.id)
                report.evicted.append(e.id)
        events = [AuditEvent(user_id, "consolidate", [], report.model_dump(exclude={"merged"}))]
        events += [AuditEvent(user_id, "merge", [m, *src]) for m, src in report.merged.items()]
        if report.evicted:
            events.append(AuditEvent(user_id, "evict", report.evicted))
        rows = [self.codec.to_row(e, v) for e, v in upserts.values()]
        stamp = {(user_id, "last_consolidation"): str(utcnow().timestamp())}
        self._commit(user_id, read_at, rows, deletes, events, stamp)
        return report

    # ---------------------------------------------------------------- user control
    def get(self, user_id: str, engram_id: str) -> Engram:
        engram = self._engrams(user_id, [engram_id])[0]
        self.backend.append_audit([AuditEvent(user_id, "get", [engram_id])])
        return engram

    def list(
        self,
        user_id: str,
        filters: RecallFilters | None = None,
        include_superseded: bool = False,
        log: bool = True,
    ) -> list[Engram]:
        """The user's engrams, oldest first (optionally filtered like recall)."""
        filters = filters or RecallFilters(include_superseded=include_superseded)
        with self._lock:
            index = self._index(user_id)
            mask = self._mask(user_id, index, filters)
            ids = [index.ids[i] for i in np.flatnonzero(mask)]
        engrams = [self.codec.to_engram(r) for r in self.backend.get(user_id, ids)]
        engrams.sort(key=lambda e: (e.metadata.created_at, e.id))
        if log:
            self.backend.append_audit([AuditEvent(user_id, "list", [], {"count": len(engrams)})])
        return engrams

    def update(
        self,
        user_id: str,
        engram_id: str,
        text: str | None = None,
        metadata: dict[str, Any] | None = None,
        event_time: datetime | None = None,
    ) -> Engram:
        """Correct an engram: new text is redacted, re-encoded and re-sketched; history keeps
        the old text (a change of metadata or event time alone adds no history entry, so
        bookkeeping writes such as a store item's expiry do not grow it)."""
        if text is None and metadata is None and event_time is None:
            raise InvalidInputError("update needs text, metadata or event_time")
        new_text = None
        if text is not None:
            new_text = check_text(text, self.config.max_text_bytes)
            if self.config.redact:
                new_text, _ = redact(new_text)
        vector = encode_checked(self.encoder, [new_text])[0] if new_text is not None else None
        return self._retrying(
            lambda: self._update(user_id, engram_id, new_text, vector, metadata, event_time)
        )

    def _update(
        self,
        user_id: str,
        engram_id: str,
        text: str | None,
        vector: np.ndarray | None,
        metadata: dict[str, Any] | None,
        event_time: datetime | None,
    ) -> Engram:
        read_at = self.backend.revision(user_id)
        old = self._engrams(user_id, [engram_id])[0]
        new_text = old.text if text is None else text
        meta = old.metadata.model_copy(
            update={
                "extra": {**old.metadata.extra, **(metadata or {})},
                "event_time": as_utc(event_time) if event_time else old.metadata.event_time,
            }
        )
        engram = old.model_copy(
            update={
                "text": new_text,
                "metadata": meta,
                "history": old.history
                if new_text == old.text
                else [*old.history, Version(action="updated", text=old.text)],
            }
        )
        engram.sketch = engram_sketch(new_text, engram.when)
        if vector is None:
            vector = self._vectors(user_id, [engram_id])[0]
        row = self.codec.to_row(engram, vector)
        self._commit(user_id, read_at, [row], [], [AuditEvent(user_id, "update", [engram_id])])
        return engram

    def delete(self, user_id: str, ids: Iterable[str]) -> int:
        """Hard delete: record, vector and tag index entries. All ids must exist (else nothing
        is deleted)."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            raise InvalidInputError("delete needs at least one engram id")
        erased = self._retrying(lambda: self._erase(user_id, "delete", set(ids)))
        self._after_erase(user_id, erased)
        return len(erased.deleted)

    def forget(
        self,
        user_id: str,
        *,
        session_id: str | None = None,
        tags: list[str] | None = None,
        time_range: TimeRange | None = None,
        everything: bool = False,
    ) -> int:
        """Hard-delete every engram matching the selectors (superseded versions included), and
        with `session_id` every statement of that session folded into other engrams (see
        `erasure`). Returns how many engrams were deleted or lost a statement of the session."""
        if not (session_id or tags or time_range or everything):
            raise InvalidInputError(
                "forget needs a selector: session_id, tags, time_range or everything=True"
            )
        # The session is matched statement by statement in `erasure.plan`, not as a row filter.
        filters = RecallFilters(tags=tags or [], time_range=time_range, include_superseded=True)
        erased = self._retrying(lambda: self._erase(user_id, "forget", filters, session_id))
        self._after_erase(user_id, erased)
        return len(erased.deleted) + len(erased.partial)

    def on_erase(self, key: str, hook: Callable[[str, list[Engram]], int]) -> None:
        """Call `hook(user_id, engrams)` after each delete or forget with the engrams whose text
        went (or changed), so copies kept elsewhere (the model's tables) go too; it returns how
        many it removed, which the audit log records. One hook per key."""
        self._erase_hooks[key] = hook

    def _erase(
        self,
        user_id: str,
        action: str,
        select: set[str] | RecallFilters,
        session_id: str | None = None,
    ) -> erasure.Erasure:
        """Delete the selected engrams and every copy of their text in the user's other
        engrams, in one conditional write."""
        index = self._index(user_id)
        read_at = index.revision
        if isinstance(select, set):
            missing = sorted(select - index.pos.keys())
            if missing:
                raise NotFoundError(f"no engram {missing[0]!r} for user {user_id!r}")
            selected = select
        else:
            selected = {index.ids[i] for i in np.flatnonzero(self._mask(user_id, index, select))}
        if not selected:
            return erasure.Erasure()
        rows = self.backend.get(user_id, list(index.pos))
        if len(rows) != len(index.pos):
            raise ConflictError(f"user {user_id!r} changed while reading")
        # Only an engram with history, evidence or a successor can hold a copy of another's.
        engrams = [
            self.codec.to_engram(r)
            for r in rows
            if r.id in selected or erasure.may_refer(self.codec.plain(r))
        ]
        plan = erasure.plan(engrams, selected, session_id)
        if not plan.deleted and not plan.rewritten:
            return plan
        vectors = dict(
            zip(plan.rewritten, self._vectors(user_id, list(plan.rewritten)), strict=True)
        )
        if plan.retexted:
            fresh = encode_checked(self.encoder, [plan.rewritten[i].text for i in plan.retexted])
            vectors.update(zip(plan.retexted, fresh, strict=True))
        upserts = [self.codec.to_row(e, vectors[i]) for i, e in plan.rewritten.items()]
        events = [AuditEvent(user_id, action, list(plan.deleted))]
        if plan.rewritten:
            events.append(AuditEvent(user_id, "scrub", list(plan.rewritten)))
        self._commit(user_id, read_at, upserts, list(plan.deleted), events)
        return plan

    def _after_erase(self, user_id: str, plan: erasure.Erasure) -> None:
        """Once the erase is committed: empty the WAL (it still holds the old pages) and let
        the hooks remove the text from where else it lives, each removal logged."""
        if not plan.deleted and not plan.rewritten:
            return
        self.backend.checkpoint()
        gone = plan.gone()
        for hook in list(self._erase_hooks.values()):
            if removed := hook(user_id, gone):
                ids = [e.id for e in gone]
                self.backend.append_audit(
                    [AuditEvent(user_id, "forget_in_model", ids, {"facts": removed})]
                )

    def export(self, user_id: str) -> dict[str, Any]:
        """Everything stored for the user as JSON-ready data, with the user's audit trail."""
        engrams = self.list(user_id, include_superseded=True, log=False)
        self.backend.append_audit([AuditEvent(user_id, "export", [], {"count": len(engrams)})])
        events = self.backend.audit_events(user_id)
        return {
            "user_id": user_id,
            "exported_at": utcnow().isoformat(),
            "engrams": [json.loads(e.model_dump_json()) for e in engrams],
            "audit": [
                {"seq": e.seq, "ts": e.ts, "action": e.action, "engram_ids": e.engram_ids}
                for e in events
            ],
        }

    def verify_audit(self) -> int:
        """Check the audit log's hash chain; return its length or raise AuditIntegrityError."""
        return verify(self.backend.audit_events())


def scope_of(user_id: str, agent_id: str | None, session_id: str | None) -> Scope:
    check_id(user_id)
    for name, value in (("agent_id", agent_id), ("session_id", session_id)):
        if value is not None:
            check_id(value, name)
    return Scope(user_id=user_id, agent_id=agent_id, session_id=session_id)
