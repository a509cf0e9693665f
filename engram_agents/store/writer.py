"""The write path: redact, encode, sketch, dedupe, supersede, persist; and corrections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from engram_agents.store import lifecycle
from engram_agents.store.core import StoreCore
from engram_agents.store.errors import ConflictError, InvalidInputError
from engram_agents.store.index import ScopeIndex
from engram_agents.store.passages import Passages
from engram_agents.store.records import Engram, EngramMetadata, MemoryItem, Scope, Version, as_utc
from engram_agents.store.redact import redact
from engram_agents.store.referents import REACH, SessionNames, refers
from engram_agents.store.rows import AuditEvent, EngramRow
from engram_agents.store.sketch import engram_sketch, passage_sketch
from engram_agents.store.validation import check_text


class Writer(StoreCore):
    """Remember (dedupe, supersede) and update: each a revision-checked read-compute-write."""

    def _prepare(self, scope: Scope, items: list[MemoryItem], redact_pii: bool) -> list[Engram]:
        engrams = []
        for n, item in enumerate(items):
            what = "text" if len(items) == 1 else f"item {n} text"
            text = check_text(item.text, self.config.max_text_bytes, what)
            found: list[str] = []
            if redact_pii:
                text, found = redact(text)
            event_time = as_utc(item.event_time) if item.event_time else None
            # the facade (validation.memory_item / check_metadata) checked the metadata
            extra = {**item.metadata, **({"redacted": found} if found else {})}
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
            engram.sketch = engram_sketch(text, engram.when, engram.speaker)
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
        vectors, passages = self.encode_turns([e.text for e in engrams])
        for engram, turn in zip(engrams, passages, strict=True):
            self._sketch_passages(engram, turn)
        return self._retrying(
            lambda: self._store_new(scope.user_id, [_fresh(e) for e in engrams], vectors, passages)
        )

    def _sketch_passages(self, engram: Engram, passages: Passages) -> None:
        """A long turn's sketch from its passages, when `passage_keywords` asks for it."""
        if len(passages) and self.config.passage_keywords:
            spans = [(int(s), int(e)) for s, e in passages.spans]
            engram.sketch = passage_sketch(
                engram.text, spans, engram.when, self.config.passage_keywords, engram.speaker
            )

    def _store_new(
        self,
        user_id: str,
        engrams: list[Engram],
        vectors: np.ndarray,
        passages: list[Passages],
    ) -> list[Engram]:
        """Dedupe, supersede and store against the user's rows as of one revision (fresh copies
        of `engrams` each attempt, `_fresh`: supersede notes are added to their history)."""
        cfg = self.config
        index = self._index(user_id)
        read_at = index.revision
        self._check_consent(user_id, read_at)  # a change of consent moves the revision
        changed: dict[str, tuple[Engram, np.ndarray]] = {}
        result: list[Engram] = []
        new_ids: list[str] = []
        events: list[AuditEvent] = []
        batch_vecs: list[np.ndarray] = []
        batch: list[Engram] = []

        agents = [e.scope.agent_id for e in engrams]
        nearest = index.nearest(vectors, agents)
        updates = [
            lifecycle.can_supersede(e, assistant_supersedes=cfg.assistant_supersedes)
            for e in engrams
        ]
        # The stored engrams looked at below, in one read: near-duplicates, and the similar ones
        # (those `_similar` keeps) of a statement that can supersede.
        floor = self._similar_floor
        near_ids = list(
            dict.fromkeys(
                i
                for near, can in zip(nearest, updates, strict=True)
                for sim, i in near
                if sim >= (floor if can else cfg.dedup_similarity)
            )
        )
        # the turns before the batch of each session where a new turn says "he" or "she", read
        # with them: whom it means (store.referents)
        sessions = dict.fromkeys(
            e.scope.session_id for e in engrams if e.scope.session_id and refers(e)
        )
        earlier = {session: index.last(session, REACH) for session in sessions}
        wanted = list(dict.fromkeys([*near_ids, *(i for ids in earlier.values() for i in ids)]))
        stored = {row.id: row for row in self.backend.get(user_id, wanted)}
        self._refer(engrams, earlier, stored)
        read: dict[str, Engram] = {}

        def lookup(engram_id: str) -> Engram:
            if engram_id in changed:
                return changed[engram_id][0]
            if engram_id not in read:
                if engram_id not in stored:  # deleted since the index was read: compute again
                    raise ConflictError(f"user {user_id!r} changed while reading")
                read[engram_id] = self.codec.to_engram(stored[engram_id])
            return read[engram_id]

        new_passages = {e.id: p for e, p in zip(engrams, passages, strict=True)}
        for engram, vector, existing, can in zip(engrams, vectors, nearest, updates, strict=True):
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
            for sim, other_id in near if can else ():  # most similar first; one fact replaced
                other = lookup(other_id)
                if other.is_active and lifecycle.supersedes(
                    engram,
                    other,
                    sim,
                    cfg.supersede_similarity,
                    cfg.supersede_keyword_overlap,
                    assistant_supersedes=cfg.assistant_supersedes,
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
                    changed[other.id] = (other, self._vector_of(index, other.id, batch, batch_vecs))
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
        rows = [self.codec.to_row(e, v, new_passages.get(e.id)) for e, v in changed.values()]
        self._commit(user_id, read_at, rows, [], events)
        return result

    def _refer(
        self, engrams: list[Engram], earlier: dict[str, list[str]], rows: dict[str, EngramRow]
    ) -> None:
        """Add to each engram's sketch the names its pronouns refer to (store.referents), read
        in order after its session's `earlier` turns (ids, oldest first; their `rows`) and the
        batch's own."""
        sessions = {
            session: SessionNames(self.codec.to_engram(rows[i]) for i in ids if i in rows)
            for session, ids in earlier.items()
        }
        for engram in engrams:
            if engram.scope.session_id in sessions:
                names = sessions[engram.scope.session_id].referred(engram)
                if names:
                    engram.sketch = sorted({*engram.sketch, *names})

    def _similar(
        self, existing: list[tuple[float, str]], vector: np.ndarray, batch: list, batch_vecs: list
    ) -> list[tuple[float, str]]:
        """Existing or same-batch engrams similar enough to be duplicates or superseded."""
        floor = self._similar_floor
        out = list(existing)
        if batch:
            sims = np.asarray(batch_vecs) @ vector
            out += [(float(s), batch[i].id) for i, s in enumerate(sims)]
        return sorted((p for p in out if p[0] >= floor), reverse=True)

    @property
    def _similar_floor(self) -> float:
        """The lowest similarity at which an engram can be a duplicate or be superseded."""
        return min(self.config.dedup_similarity, self.config.supersede_similarity)

    @staticmethod
    def _vector_of(index: ScopeIndex, engram_id: str, batch: list, vecs: list) -> np.ndarray:
        if engram_id in index.pos:
            return index.vectors_of([engram_id])[0]
        return vecs[[e.id for e in batch].index(engram_id)]

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
        encoded = None
        if new_text is not None:
            vectors, passages = self.encode_turns([new_text])
            encoded = vectors[0], passages[0]
        return self._retrying(
            lambda: self._update(user_id, engram_id, new_text, encoded, metadata, event_time)
        )

    def _update(
        self,
        user_id: str,
        engram_id: str,
        text: str | None,
        encoded: tuple[np.ndarray, Passages] | None,
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
        engram.sketch = engram_sketch(new_text, engram.when, engram.speaker)
        vector, passages = encoded or (self._vectors(user_id, [engram_id])[0], None)
        if passages is not None:
            self._sketch_passages(engram, passages)
        session = engram.scope.session_id
        if session is not None and refers(engram):
            before = self._index(user_id, read_at).before(engram_id, REACH)
            rows = {r.id: r for r in self.backend.get(user_id, before)}
            self._refer([engram], {session: before}, rows)
        row = self.codec.to_row(engram, vector, passages)
        self._commit(user_id, read_at, [row], [], [AuditEvent(user_id, "update", [engram_id])])
        return engram


def _fresh(engram: Engram) -> Engram:
    """A copy for one write attempt: `_store_new` changes only the history of the engrams it is
    given (everything else is replaced through `model_copy`), so that is all that is copied; a
    deep copy cost more than the rest of a remember's bookkeeping."""
    return engram.model_copy(update={"history": list(engram.history)})
