"""Learning from use: feedback on recalled engrams, and consolidation (decay, merge,
promote, evict)."""

from __future__ import annotations

import numpy as np

from engram_agents.store import fusion, lifecycle, reply_use
from engram_agents.store.config import FusionWeights
from engram_agents.store.core import StoreCore
from engram_agents.store.errors import ConflictError, NotFoundError
from engram_agents.store.records import ConsolidationReport, Engram, RecallFilters, Tier, utcnow
from engram_agents.store.rows import AuditEvent, EngramRow
from engram_agents.store.sketch import extract_sketch


class Consolidator(StoreCore):
    """Feedback (usefulness and learned fusion weights) and nightly consolidation."""

    def feedback(self, user_id: str, ids: list[str], useful: bool) -> FusionWeights:
        """Mark recalled engrams useful or not: adjusts their usefulness and learns the weights.
        The arguments were checked by `EngramMemory.feedback` (non-empty ids, a real bool)."""
        return self._retrying(lambda: self._feedback(user_id, ids, useful))

    def _feedback(self, user_id: str, ids: list[str], useful: bool) -> FusionWeights:
        read_at = self.backend.revision(user_id)
        rows = self.backend.get(user_id, list(ids))
        missing = set(ids) - {r.id for r in rows}
        if missing:
            raise NotFoundError(f"no engram {sorted(missing)[0]!r} for user {user_id!r}")
        weights = self.weights(user_id)
        for row in rows:
            x = self._last_features.get((user_id, row.id))
            if x is not None:
                weights = fusion.learn(weights, x, useful, self.config.learning_rate)
        event = AuditEvent(user_id, "feedback", list(ids), {"useful": useful})
        self._credit(user_id, read_at, [(r, 1.0 if useful else -1.0) for r in rows], event, weights)
        return weights

    def _credit(
        self,
        user_id: str,
        read_at: int,
        credits: list[tuple[EngramRow, float]],
        event: AuditEvent,
        weights: FusionWeights,
    ) -> None:
        """Add each row's credit to its usefulness (kept in [-5, 5]), renew its strength, and
        write them with the re-learned weights in one conditional write."""
        for row, credit in credits:
            row.usefulness = float(np.clip(row.usefulness + credit, -5, 5))
            row.strength = 1.0
        rows = [row for row, _ in credits]
        settings = {(user_id, "fusion_weights"): weights.model_dump_json()}
        self._commit(user_id, read_at, rows, [], [event], settings)

    def observe_reply(
        self, user_id: str, reply: str, ids: list[str], known: set[str]
    ) -> reply_use.ReplyUse:
        """Read which recalled engrams (`ids`) the model's `reply` used and learn from it as
        from feedback worth `reply_feedback_share` of an explicit judgement: used ones gain
        usefulness by their use score, and the weights learn what set them apart from the
        unused ones (`fusion.learn_pair`). `known` holds the query's tags: no engram's use."""
        return self._retrying(lambda: self._observe_reply(user_id, reply, ids, known))

    def _observe_reply(
        self, user_id: str, reply: str, ids: list[str], known: set[str]
    ) -> reply_use.ReplyUse:
        read_at = self.backend.revision(user_id)
        rows = self.backend.get(user_id, ids)  # engrams deleted since the recall are left out
        sketches = [set(self.codec.to_engram(r).sketch) for r in rows]
        scores = reply_use.use_scores(set(extract_sketch(reply, utcnow())), sketches, known)
        used = reply_use.used_mask(scores)
        weights = self.weights(user_id)
        use = reply_use.ReplyUse(
            scores={r.id: round(float(s), 4) for r, s in zip(rows, scores, strict=True)},
            used=[r.id for r, u in zip(rows, used, strict=True) if u],
            weights=weights,
        )
        if not use.used:
            return use
        share = self.config.reply_feedback_share
        feats = [self._last_features.get((user_id, r.id)) for r in rows]
        unused = [x for x, u in zip(feats, used, strict=True) if not u and x is not None]
        unused_mean = np.mean(unused, axis=0) if unused else None
        changed = [(r, x) for r, x, u in zip(rows, feats, used, strict=True) if u]
        credits = []
        for (row, x), score in zip(changed, scores[used], strict=True):
            credit = share * float(score)
            credits.append((row, credit))
            if unused_mean is not None and x is not None:
                lr = self.config.learning_rate * credit
                weights = fusion.learn_pair(weights, x, unused_mean, lr)
        use.weights = weights
        event = AuditEvent(user_id, "reply_use", use.used, {"recalled": len(rows)})
        self._credit(user_id, read_at, credits, event, weights)
        return use

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
        engrams = {e.id: e for e in self._listed(user_id, RecallFilters(include_superseded=True))}
        if not engrams.keys() <= index.pos.keys():
            raise ConflictError(f"user {user_id!r} changed while consolidating")
        vectors = dict(zip(engrams, index.vectors_of(list(engrams)), strict=True))
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
                remaining, key=lambda e: (e.stats.last_access or e.metadata.created_at).timestamp()
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
