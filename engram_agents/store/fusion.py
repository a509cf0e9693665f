"""Fused recall score: a weighted sum of normalized signals, with weights learned from feedback
(one logistic-regression step per judged result, weights kept non-negative)."""

from __future__ import annotations

import math

import numpy as np

from engram_agents.store.config import FusionWeights
from engram_agents.store.index import ScopeIndex
from engram_agents.store.records import TimeRange

FEATURES = list(FusionWeights.model_fields)


def _unit(values: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] over the candidates, so the two retrieval signals are comparable."""
    if values.size == 0:
        return values
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.ones_like(values)


def features(
    index: ScopeIndex,
    rows: np.ndarray,
    similarity: np.ndarray,
    lexical: np.ndarray,
    now_ts: float,
    half_life_days: float,
    time_range: TimeRange | None,
    marks: tuple[np.ndarray, ...],
    content_tags: int,
) -> np.ndarray:
    """One row per candidate, columns in FEATURES order; `marks` are, per candidate, whether it
    ends by asking (`sketch.is_asking`), was said by the user, and by the model (`role_tag`),
    whether it sets a standing preference that the query, a request, reads, and whether the
    user said it and the query asks about the user's own things
    (`query_reading.asks_about_self`), or the model said it and the query asks what the model
    said (`query_reading.asks_about_model`), and whether it holds the kind of answer the query
    asks for (`sketch.HOLDS`); a candidate's content is its tag count over `content_tags`, at
    most 1."""
    asks, by_user, by_model, prefers, users_words, models_words, answers = marks
    f = index.fields
    age_days = np.maximum(now_ts - f["when_ts"][rows], 0.0) / 86_400.0
    if time_range is None:
        in_time = np.zeros(rows.size)
    else:
        when = f["when_ts"][rows]
        start = time_range.start.timestamp() if time_range.start else -math.inf
        end = time_range.end.timestamp() if time_range.end else math.inf
        in_time = ((when >= start) & (when < end)).astype(np.float64)
    return np.stack(
        [
            _unit(similarity),
            lexical / lexical.max() if lexical.size and lexical.max() > 0 else lexical,
            np.tanh(f["usefulness"][rows] / 2.0),
            np.exp2(-age_days / half_life_days),
            in_time,
            np.minimum(f["strength"][rows], 2.0) / 2.0,
            ~asks,
            by_user,
            by_model,
            prefers,
            np.minimum(f["length"][rows] / content_tags, 1.0),
            users_words,
            models_words,
            answers,
        ],
        axis=1,
    ).astype(np.float32)


def with_dense_floor(
    fused: np.ndarray, dense: np.ndarray, share: float, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The top `k` candidates in fused order, except that every prefix of n results holds the
    floor(share * n) candidates ranked highest by `dense` (ties broken by position), each put
    in as late as that allows. So for every k the result holds dense's top floor(share * k),
    and recall@k is never below dense's recall@floor(share * k); the rest of each prefix is
    the fused order's best, and the fused first result stays first while share < 1. Returns
    the order and, per result, whether the floor (not the fused order) placed it there."""
    k = min(k, fused.size)
    by_fused = np.argsort(-fused, kind="stable")[:k]
    by_dense = np.argsort(-dense, kind="stable")[: math.floor(share * k + 1e-9)]
    order: list[int] = []
    floored: list[bool] = []
    taken: set[int] = set()
    d = f = 0
    for n in range(1, k + 1):
        while d < by_dense.size and by_dense[d] in taken:
            d += 1
        if d < math.floor(share * n + 1e-9):
            pick, by_floor = int(by_dense[d]), True
        else:
            while by_fused[f] in taken:
                f += 1
            pick, by_floor = int(by_fused[f]), False
        taken.add(pick)
        order.append(pick)
        floored.append(by_floor and pick not in by_fused[:n])
    return np.asarray(order, dtype=np.int64), np.asarray(floored, dtype=bool)


def as_vector(weights: FusionWeights) -> np.ndarray:
    return np.asarray([getattr(weights, name) for name in FEATURES], dtype=np.float32)


def learn(weights: FusionWeights, x: np.ndarray, useful: bool, lr: float) -> FusionWeights:
    """Nudge the weights so a result judged useful scores higher (and a useless one lower)."""
    w = as_vector(weights)
    centered = x - 0.5  # fused scores of typical results sit near the middle
    p = 1.0 / (1.0 + math.exp(-float(w @ centered)))
    return _as_weights(w + lr * ((1.0 if useful else 0.0) - p) * centered)


def learn_pair(
    weights: FusionWeights, better: np.ndarray, worse: np.ndarray, lr: float
) -> FusionWeights:
    """Nudge the weights so `better` (a result the reply used) scores further above `worse`
    (the unused ones' mean): one pairwise logistic step, which moves the weights only along
    what sets the two apart (a signal equal for both stays where it is)."""
    w = as_vector(weights)
    gap = better - worse
    p = 1.0 / (1.0 + math.exp(-float(w @ gap)))
    return _as_weights(w + lr * (1.0 - p) * gap)


def _as_weights(w: np.ndarray) -> FusionWeights:
    """Weights stay non-negative: a signal may stop counting, never count against a result."""
    return FusionWeights(
        **{name: float(v) for name, v in zip(FEATURES, np.maximum(w, 0.0), strict=True)}
    )


def diversified(
    fused: np.ndarray, vectors: np.ndarray, rows: np.ndarray, k: int, weight: float
) -> np.ndarray:
    """Scores whose descending order picks, one at a time, the candidate with the best fused
    score less `weight` times its highest cosine with a candidate picked before (maximal
    marginal relevance; candidate i's vector is `vectors[rows[i]]`): a question about several
    events then finds one turn per event, not k near-repeats of one. Only the first `k`
    picks, drawn from the fused top 4k, move; the first pick is the fused first, no candidate
    scores above its fused score, and those not picked stay below every pick."""
    k = min(k, fused.size)
    if weight <= 0 or k < 2:
        return fused
    pool = np.argsort(-fused, kind="stable")[: 4 * k]
    own = vectors[rows[pool]]
    unit = own / np.maximum(np.linalg.norm(own, axis=1, keepdims=True), 1e-12)
    cos = unit @ unit.T
    base = fused[pool].astype(np.float32)
    left = np.ones(pool.size, dtype=bool)
    penalty = np.zeros(pool.size, dtype=np.float32)
    order, gains = [], []
    for _ in range(k):
        gain = np.where(left, base - weight * penalty, -np.inf)
        i = int(np.argmax(gain))
        order.append(i)
        gains.append(gain[i])
        left[i] = False
        penalty = np.maximum(penalty, cos[:, i])  # an opposite vector counts as no repeat
    # Picks' gains only fall (penalties only grow), so their order is the descending order.
    out = fused.astype(np.float32, copy=True)
    picked = pool[order]
    rest = np.ones(fused.size, dtype=bool)
    rest[picked] = False
    out[picked] = gains
    out[rest] = np.minimum(out[rest], np.nextafter(np.float32(gains[-1]), np.float32(-np.inf)))
    return out
