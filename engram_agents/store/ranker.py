"""Two-stage recall: a tag-sketch filter, a dense rank, a fused score with a dense floor."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from engram_agents.store import explanations, fusion, query_parts
from engram_agents.store.core import StoreCore
from engram_agents.store.index import ScopeIndex
from engram_agents.store.query_reading import reading
from engram_agents.store.records import (
    Passage,
    RecallFilters,
    RecallHit,
    TimeRange,
    as_utc,
    utcnow,
)
from engram_agents.store.rows import AuditEvent, EngramRow
from engram_agents.store.sentences import static_query
from engram_agents.store.sketch import (
    ASKS,
    HOLDS,
    PREFERS,
    SAID_BY_MODEL,
    SAID_BY_USER,
    extract_sketch,
)
from engram_agents.store.timeexpr import find_time_mentions, parse_when, span_of
from engram_agents.store.validation import check_id, check_k, check_text, recall_filters


@dataclass
class RecallItem:
    """One recall of a batch (`Ranker.recall_many`), with its query's vector when the caller
    encoded it already (with `encode_checked`, e.g. together with other queries)."""

    user_id: str
    query: str
    k: int = 10
    filters: RecallFilters | None = None
    now: datetime | None = None
    qvec: np.ndarray | None = None

    @classmethod
    def checked(
        cls,
        query: str,
        user_id: str,
        k: int,
        qvec: np.ndarray | None,
        filters: RecallFilters | dict[str, Any] | None,
        keywords: dict[str, Any],
        now: datetime | str | None,
    ) -> RecallItem:
        """A recall as `EngramMemory.recall` takes it (filters as a dict or keywords, `now`
        as text), checked: a bad one fails here, before its query is encoded."""
        check_id(user_id)
        when = parse_when(now) if now is not None else None
        return cls(user_id, query, k, recall_filters(filters, keywords, when), when, qvec)


_NONE = np.zeros(0, dtype=np.int64)
# The signals a hit's explanation names when they moved it (their weighted part is not 0).
_EXPLAINED = [
    fusion.FEATURES.index(name)
    for name in ("time", "preference", "first_person", "second_person", "answer_kind")
]
_STATEMENT, _TAGS = fusion.FEATURES.index("statement"), fusion.FEATURES.index("tags")


@dataclass
class _Query:
    """A recall's query checked and parsed once: text, vectors, tags and the time it names."""

    text: str
    k: int
    filters: RecallFilters
    now: datetime
    qvec: np.ndarray
    pquery: np.ndarray
    tags: list[str]
    span: TimeRange | None
    squery: np.ndarray | None  # the static vector short turns' sentences are compared with
    request: bool  # asks for something to be done: standing preferences apply (sketch.PREFERS)
    about_self: bool  # asks about the user's own things: the user's turns answer it
    about_model: bool  # asks what the assistant said: its turns answer it
    asks_for: str | None  # the kind of answer it asks for (sketch.HOLDS), if any
    parts: list[_Query] = field(default_factory=list)  # ranked alone too (store.query_parts)


@dataclass
class _Ranked:
    """A query's hits before their engrams are read: each hit's fields but its engram and
    passage text (`fields`, best first, with `spans`), and its features for feedback."""

    user_id: str
    index: ScopeIndex
    k: int
    ids: list[str]
    fields: list[dict[str, Any]]
    spans: list[tuple[int, int] | None]
    feats: np.ndarray


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
        return self.recall_item(RecallItem(user_id, query, k, filters, now, qvec))

    def recall_item(self, item: RecallItem) -> list[RecallHit]:
        (result,) = self.recall_many([item])
        if isinstance(result, Exception):
            raise result
        return result

    def recall_many(self, items: list[RecallItem]) -> list[list[RecallHit] | Exception]:
        """Each item's hits, exactly as recalling them one after another in this order gives
        them, or the error its own recall raises (one bad item fails only itself). The work
        the items share is done once: the store's lock, one read of the users' revisions, each
        user's index check, one read of all hit rows, one write-behind of the access counts."""
        results: list[list[RecallHit] | Exception] = [[] for _ in items]
        queries: dict[int, _Query] = {}
        for n, item in enumerate(items):
            try:
                queries[n] = self._query(item)
            except Exception as exc:
                results[n] = exc
        with self._lock:
            ranked = self._ranked(items, queries, results)
            rows = self._hit_rows(ranked, results)
            ts = utcnow().timestamp()
            seen: dict[str, int] = {}  # recalls of this batch that returned each engram so far
            done = []
            for n, one in ranked.items():
                if n not in rows:
                    continue
                try:
                    results[n] = self._with_engrams(one, rows[n], seen, ts)
                    done.append(one)
                except Exception as exc:  # a hit's row deleted by another process since
                    results[n] = exc
            self._touched(done, ts)
        return results

    def _query(self, item: RecallItem, whole: bool = True) -> _Query:
        text = check_text(item.query, self.config.max_text_bytes, "query")
        k = check_k(item.k)
        now = as_utc(item.now) if item.now else utcnow()
        qvec = item.qvec
        if qvec is None:
            qvec = self.query_vectors.encode([text], [item.user_id])[0]
        mentions = find_time_mentions(text, now)  # parsed once: for the tags and the span
        tags = extract_sketch(text, mentions=mentions)
        pquery = self.passage_query(text, qvec)
        squery = None  # the sentences' query: the passages' where they share the static table
        if self._sentences is not None:
            same = self._sentences is self._static
            squery = pquery if same else static_query(self.encoder, self._sentences, text)
        filters = item.filters or RecallFilters()
        span = span_of(mentions)
        q = _Query(text, k, filters, now, qvec, pquery, tags, span, squery, *reading(text))
        texts = self.parts_of(text) if whole else []
        if texts:
            vectors = self.query_vectors.encode(texts, [item.user_id] * len(texts))
            for part, vector in zip(texts, vectors, strict=True):
                q.parts.append(self._query(replace(item, query=part, qvec=vector), whole=False))
        return q

    def parts_of(self, query: str) -> list[str]:
        """The parts this store ranks `query` by (store.query_parts), none where
        `StoreConfig.query_parts` is off."""
        return query_parts.parts_of(query) if self.config.query_parts else []

    def _ranked(
        self,
        items: list[RecallItem],
        queries: dict[int, _Query],
        results: list[list[RecallHit] | Exception],
    ) -> dict[int, _Ranked]:
        """Each query ranked on its user's index, the users' revisions read in one go and each
        index checked once; a failure is the error of the items it concerns."""
        users = list(dict.fromkeys(items[n].user_id for n in queries))
        try:
            revisions = self.backend.revisions(users) if users else {}
        except Exception as exc:
            _fail(results, queries, exc)
            return {}
        indexes: dict[str, ScopeIndex] = {}
        ranked: dict[int, _Ranked] = {}
        for n, q in queries.items():
            user_id = items[n].user_id
            try:
                if user_id not in indexes:
                    indexes[user_id] = self._index(user_id, revisions[user_id])
                ranked[n] = self._rank_whole(user_id, indexes[user_id], q)
            except Exception as exc:
                results[n] = exc
        return ranked

    def _hit_rows(
        self, ranked: dict[int, _Ranked], results: list[list[RecallHit] | Exception]
    ) -> dict[int, dict[str, EngramRow]]:
        """The rows of each ranking's hits, all users' in one read."""
        wanted: dict[str, dict[str, None]] = {}
        for one in ranked.values():
            wanted.setdefault(one.user_id, {}).update(dict.fromkeys(one.ids))
        asked = {user_id: list(ids) for user_id, ids in wanted.items() if ids}
        try:
            got = self.backend.records_many(asked) if asked else {}
        except Exception as exc:
            _fail(results, ranked, exc)
            return {}
        read = {user_id: {r.id: r for r in got.get(user_id, [])} for user_id in wanted}
        return {n: read[one.user_id] for n, one in ranked.items()}

    def _with_engrams(
        self, ranked: _Ranked, rows: dict[str, EngramRow], seen: dict[str, int], ts: float
    ) -> list[RecallHit]:
        """The ranking's hits with their engrams, whose access counts include the recalls of
        the batch before this one (as reading after their writes would give); counts it."""
        hits = []
        for engram_id, fields, span in zip(ranked.ids, ranked.fields, ranked.spans, strict=True):
            row = rows[engram_id]
            if engram_id in seen:
                row = replace(row, activations=row.activations + seen[engram_id])
                row.last_access_ts = ts
            engram = self.codec.to_engram(row)
            passage = (
                Passage(start=span[0], end=span[1], text=engram.text[slice(*span)])
                if span
                else None
            )
            hits.append(RecallHit(engram=engram, passage=passage, **fields))
        for engram_id in ranked.ids:
            seen[engram_id] = seen.get(engram_id, 0) + 1
        return hits

    def _touched(self, ranked: list[_Ranked], ts: float) -> None:
        """Count the recalls' accesses (written behind), one audit entry each, and keep each
        hit's features for feedback."""
        accesses: dict[str, tuple[int, float]] = {}
        for one in ranked:
            for engram_id in one.ids:
                accesses[engram_id] = (accesses.get(engram_id, (0, ts))[0] + 1, ts)
        events = [AuditEvent(one.user_id, "recall", one.ids, {"k": one.k}) for one in ranked]
        self.backend.touch(accesses, events)
        for one in ranked:
            one.index.touch(one.ids, ts)
            for engram_id, x in zip(one.ids, one.feats, strict=True):
                self._last_features.put((one.user_id, engram_id), x)

    def _rank_whole(self, user_id: str, index: ScopeIndex, q: _Query) -> _Ranked:
        """`_rank`, or for a question about several things (store.query_parts) the rankings
        of its parts taken in turn under the whole question's dense floor."""
        whole = self._rank(user_id, index, q)
        if not q.parts or not whole.ids:
            return whole
        parts = [self._rank(user_id, index, part) for part in q.parts]
        texts = [part.text for part in q.parts]
        share = self.config.dense_floor
        got = query_parts.merged(index, q.qvec, share, q.k, parts, whole, texts)
        return _Ranked(user_id, index, q.k, *got)

    def _rank(self, user_id: str, index: ScopeIndex, q: _Query) -> _Ranked:
        cfg = self.config
        k = q.k
        if not len(index):
            return _Ranked(user_id, index, k, [], [], [], np.zeros((0, len(fusion.FEATURES))))
        qvec = q.qvec
        mask = self._mask(user_id, index, q.filters)
        hashed = dict(zip(self.codec.index_tags(q.tags, user_id), q.tags, strict=True))
        kind = [HOLDS[q.asks_for]] if q.asks_for else []
        marks = self.codec.index_tags([ASKS, SAID_BY_USER, SAID_BY_MODEL, PREFERS, *kind], user_id)
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
            # a request reads the standing preferences, which seldom share its tags
            prefers = index.posting(marks[3])[-cfg.min_candidates :] if q.request else _NONE
            # a reply to a question sharing the query's tags (SessionLinks.with_questions)
            replies = index.replies(rows, marks[0]) if cfg.reply_tags > 0 else _NONE
            if wanted or prefers.size or replies.size:
                extra = index.dense_top(qvec, wanted, mask) if wanted else _NONE
                extra = np.concatenate([extra, prefers[mask[prefers]], replies[mask[replies]]])
                extra = np.setdiff1d(extra, rows)
                rows = np.concatenate([rows, extra])
                lex = np.concatenate([lex, np.zeros(extra.size, dtype=np.float32)])
        if rows.size == 0:
            return _Ranked(user_id, index, k, [], [], [], np.zeros((0, len(fusion.FEATURES))))
        lex, replied = index.with_questions(rows, lex, marks[0], cfg.reply_tags)
        own = index.similarities(qvec, rows)  # the turns' own vectors: the dense floor's order
        static = self._static is not None
        sims, passages = index.with_passages(q.pquery, rows, own, cfg.passage_score, static)
        in_context = index.in_context(rows, sims, qvec, cfg.context_weight)
        lift = np.zeros(rows.size, dtype=np.float32)
        if q.squery is not None:  # before diversity and the floor: the floor's order is `own`
            lift = index.sentences.lift(rows, own, q.squery, cfg.sentence_weight)
        similar = in_context + lift
        asks, by_user, by_model, prefers, *holds = (index.holding(tag, rows) for tag in marks)
        answers = holds[0] if holds else np.zeros(rows.size, dtype=bool)
        x = fusion.features(
            index,
            rows,
            similar,
            lex,
            q.now.timestamp(),
            cfg.recency_half_life_days,
            q.span,
            (
                asks,
                by_user,
                by_model,
                prefers & q.request,
                by_user & q.about_self,
                by_model & q.about_model,
                answers,
            ),
            cfg.content_tags,
        )
        w = fusion.as_vector(self.weights(user_id, index.revision))
        scored = x @ w
        # the sentences' share of the similarity signal (min-max scaled over the candidates)
        spread = float(np.ptp(similar))
        sentence = lift * w[0] / spread if spread > 0 else np.zeros_like(lift)
        fused = fusion.diversified(scored, index.vectors, rows, k, cfg.diversity)
        order, floored = fusion.with_dense_floor(fused, own, cfg.dense_floor, k)
        # A hit the floor moved up is scored as the best hit below it, so the scores fall in
        # the returned order and callers that sort or merge results by score keep the floor.
        ranked = np.maximum.accumulate(fused[order][::-1])[::-1]
        hit_rows, at, weighted = rows[order], fused[order], x[order] * w
        in_time, *whose = (weighted[:, _EXPLAINED] != 0).T.tolist()
        fields, spans = explanations.hit_fields(
            index,
            hashed,
            (
                hit_rows,
                passages[order],
                ranked,
                sims[order],
                weighted,
                scored[order] - at,
                ranked - at,
                sentence[order],
            ),
            [
                in_time,
                (asks[order] & (w[_STATEMENT] > 0)).tolist(),
                floored.tolist(),
                (lift[order] > 0).tolist(),
                (replied[order] & (w[_TAGS] > 0)).tolist(),
                *whose,
            ],
        )
        ids = [index.ids[row] for row in hit_rows.tolist()]
        return _Ranked(user_id, index, k, ids, fields, spans, x[order])


def _fail(results: list[list[RecallHit] | Exception], which: Iterable[int], exc: Exception) -> None:
    for n in which:
        results[n] = exc
