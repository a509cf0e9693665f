"""Which recalled memories a reply used: the self-supervised usefulness signal.

A memory the model's reply draws on leaves its distinctive words, names, numbers and dates in
the reply. Each recalled engram is scored by the share of its distinctive tags the reply holds,
a tag weighing by how rare it is among the recalled engrams (a word all of them share tells
which one was used no better than none) and not at all when the query already held it (a reply
repeats the question's words whichever memory it used). Which engrams count as used is decided
from the scores themselves: those above the widest gap in their sorted order."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from pydantic import BaseModel

from engram_agents.store.config import FusionWeights
from engram_agents.store.sketch import MARKS


class ReplyUse(BaseModel):
    """What `observe_reply` read from a reply: each recalled engram's use score in [0, 1], the
    ones counted as used, and the user's fusion weights after learning from it."""

    scores: dict[str, float]
    used: list[str]
    weights: FusionWeights


def use_scores(reply: set[str], engrams: list[set[str]], known: set[str]) -> np.ndarray:
    """Per engram (its sketch tags), the rarity-weighted share of its tags that `reply` holds;
    tags in `known` (the query's) and the marks (asking, who said it) do not count."""
    own = [tags - known - MARKS for tags in engrams]
    df = Counter(t for tags in own for t in tags)
    idf = {t: math.log((len(own) + 1) / n) for t, n in df.items()}
    scores = []
    for tags in own:
        total = sum(idf[t] for t in tags)
        scores.append(sum(idf[t] for t in tags & reply) / total if total else 0.0)
    return np.asarray(scores, dtype=np.float64)


def used_mask(scores: np.ndarray) -> np.ndarray:
    """The scores above the widest gap between neighbours in their sorted order (0 counts as a
    neighbour below the lowest), so the cut adapts to each reply; nothing when all are 0."""
    if scores.size == 0 or scores.max() <= 0:
        return np.zeros(scores.size, dtype=bool)
    ordered = np.append(np.sort(scores)[::-1], 0.0)
    cut = ordered[int(np.argmax(ordered[:-1] - ordered[1:])) + 1]
    return scores > cut
