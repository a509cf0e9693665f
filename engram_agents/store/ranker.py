"""Two-stage recall: a tag-sketch filter, a dense rank, a fused score with a dense floor."""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import datetime

import numpy as np

from engram_agents.store import fusion
from engram_agents.store.core import StoreCore
from engram_agents.store.encoders import encode_checked
from engram_agents.store.records import (
    Passage,
    RecallFilters,
    RecallHit,
    TimeRange,
    as_utc,
    utcnow,
)
from engram_agents.store.rows import AuditEvent
from engram_agents.store.sentences import static_query
from engram_agents.store.sketch import ASKS, SAID_BY_MODEL, SAID_BY_USER, extract_sketch
from engram_agents.store.timeexpr import find_time_mentions, span_of
from engram_agents.store.validation import check_k, check_text


class Ranker(StoreCore):
    """Recall: sketch filter, dense rank, fused score with a dense floor, explained per hit."""

    def recall(
        self,
        user_id: str,
        query: str,
        k: int = 10,
        filters: RecallFilters | None = None,
        now: datetime | None = None,
        qvec: np.ndarray | None = None,
    ) -> list[RecallHit]:
        """`qvec`: the query's normalized vector from this store's encoder, when the caller
        encoded it already (with `encode_checked`, e.g. together with other queries)."""
        query = check_text(query, self.config.max_text_bytes, "query")
        k = check_k(k)
        filters = filters or RecallFilters()
        now = as_utc(now) if now else utcnow()
        if qvec is None:
            qvec = encode_checked(self.encoder, [query])[0]
        pquery = self.passage_query(query, qvec)
        squery = static_query(self.encoder, self._sentences, query) if self._sentences else None
        mentions = find_time_mentions(query, now)  # parsed once: for the tags and the span
        query_tags = extract_sketch(query, mentions=mentions)
        with self._lock:
            hits, feats = self._rank(
                user_id, qvec, pquery, query_tags, span_of(mentions), k, filters, now, squery
            )
            ids = [h.engram.id for h in hits]
            index = self._indexes[user_id]  # the one `_rank` read (under the same lock)
            ts = utcnow().timestamp()
            event = AuditEvent(user_id, "recall", ids, {"k": k})
            self.backend.touch(dict.fromkeys(ids, (1, ts)), [event])
            index.touch(ids, ts)
            cache = self._last_features.setdefault(user_id, OrderedDict())
            for engram_id, x in zip(ids, feats, strict=True):
                cache[engram_id] = x
                cache.move_to_end(engram_id)
            while len(cache) > 1000:
                cache.popitem(last=False)
        return hits

    def _rank(
        self,
        user_id: str,
        qvec: np.ndarray,
        pquery: np.ndarray,
        query_tags: list[str],
        time_range: TimeRange | None,
        k: int,
        filters: RecallFilters,
        now: datetime,
        squery: np.ndarray | None = None,
    ) -> tuple[list[RecallHit], np.ndarray]:
        """`squery`: the query's static vector, when short turns are read by sentence."""
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
        own = index.similarities(qvec, rows)  # the turns' own vectors: the dense floor's order
        static = self._static is not None
        sims, passages = index.with_passages(pquery, rows, own, cfg.passage_score, static)
        in_context = index.in_context(rows, sims, qvec, cfg.context_weight)
        lift = np.zeros(rows.size, dtype=np.float32)
        if squery is not None:  # before diversity and the floor: the floor's order is `own`
            lift = index.sentences.lift(rows, own, squery, cfg.sentence_weight)
        asks, by_user, by_model = (
            np.isin(rows, index.posting(tag))
            for tag in self.codec.index_tags([ASKS, SAID_BY_USER, SAID_BY_MODEL], user_id)
        )
        x = fusion.features(
            index,
            rows,
            in_context + lift,
            lex,
            now.timestamp(),
            cfg.recency_half_life_days,
            time_range,
            (asks, by_user, by_model),
        )
        w = fusion.as_vector(self.weights(user_id, index.revision))
        scored = x @ w
        # the sentences' share of the similarity signal (min-max scaled over the candidates)
        spread = float(np.ptp(in_context + lift))
        sentence = lift * w[0] / spread if spread > 0 else np.zeros_like(lift)
        fused = fusion.diversified(scored, index.vectors, rows, k, cfg.diversity)
        order, floored = fusion.with_dense_floor(fused, own, cfg.dense_floor, k)
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
            span = index.passage_span(int(passages[i]))
            passage = (
                Passage(start=span[0], end=span[1], text=engram.text[slice(*span)])
                if span
                else None
            )
            hits.append(
                RecallHit(
                    engram=engram,
                    score=float(score),
                    similarity=float(sims[i]),
                    matched_tags=matched,
                    explanation=self._explain(
                        float(sims[i]), matched, bool(x[i, 4]), bool(asks[i]), by_floor, span
                    )
                    + ("; a sentence of it matched the query better" if lift[i] > 0 else ""),
                    parts=self._parts(
                        x[i] * w,
                        float(scored[i] - fused[i]),
                        float(score - fused[i]),
                        float(sentence[i]),
                    ),
                    passage=passage,
                )
            )
        return hits, x[order]

    @staticmethod
    def _parts(
        weighted: np.ndarray, repeats: float, lifted: float, sentence: float = 0.0
    ) -> dict[str, float]:
        """Each signal times its weight; with what repeating a better hit took away
        (`redundancy`) and what the dense floor added, they sum to the score. `sentence`: the
        part of the similarity's that its best sentence added (store.sentences)."""
        parts = dict(zip(fusion.FEATURES, weighted.tolist(), strict=True))
        if sentence:
            parts["similarity"] -= sentence
            parts["sentence"] = sentence
        if repeats > 0:
            parts["redundancy"] = -repeats
        if lifted > 0:
            parts["dense_floor"] = lifted
        return parts

    @staticmethod
    def _explain(
        similarity: float,
        matched: list[str],
        in_time: bool,
        asks: bool,
        by_floor: bool,
        span: tuple[int, int] | None = None,
    ) -> str:
        parts = [f"similarity {similarity:.2f}"]
        if span:
            parts[0] += f" (best passage: characters {span[0]}-{span[1]})"
        parts.append(f"matched tags: {', '.join(matched)}" if matched else "no shared tags")
        if in_time:
            parts.append("inside the time the query names")
        if asks:
            parts.append("a question, ranked below statements")
        if by_floor:
            parts.append("kept among the most similar (dense floor)")
        return "; ".join(parts)
