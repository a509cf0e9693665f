"""A question that names several things asks for evidence of each of them. "Put these in order:
the Lisbon job offer, my Ghent talk, the Lisbon interview" wants one memory per event, and
"What do Jon and Gina both have in common?" wants what each of them said; read as one vector,
such a question lands near whichever item its encoder weighs most, and the others' evidence
ranks far down. So recall also ranks each part alone (`parts_of`): the list's lead with one
item, or the question about one of the two people, and takes the parts' results in turn
(`interleaved`). The dense floor is then applied to that order with the whole question's own
dense ranking, so its guarantee is the one every recall has. Measured on user-assistant chats
and on dialogue: benchmarks/RESULTS.md ("s35")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from engram_agents.store.explanations import FLOOR_NOTE
from engram_agents.store.fusion import with_dense_floor
from engram_agents.store.index import ScopeIndex

MIN_ITEMS = 3  # "A and B" after a colon is one thing as often as two ("Q&A: pros and cons")
MAX_PARTS = 6  # each part costs a ranking; a longer list is read as the question alone
MAX_CHARS = 300  # a question that lists things fits in a line; a long message is not split
# A list that is asked about: the lead points ahead to it ("Put these in order:"), or it asks.
_POINTS_AHEAD = re.compile(r"\b(?:these|those|following)\b", re.I)
_ITEM_BREAK = re.compile(r"\s*(?:[,;]\s*(?:and\s+|or\s+)?|\s(?:and|or)\s+)", re.I)
# "Jon and Gina both", "both Jean and John", with "both" or "in common" in the question.
_PAIR = re.compile(r"\b(?:both\s+)?([^\W\d_][\w'’-]*) and ([^\W\d_][\w'’-]*)(?:\s+both)?\b")
_JOINT = re.compile(r"\b(?:both|in common)\b", re.I)
_NOT_PEOPLE = frozenset({"I", "We", "You"})


def parts_of(query: str) -> list[str]:
    """The sub-queries `query` asks about together, or [] when it asks about one thing: each
    listed item with the list's lead ("Put these in order: A, B, and C."; "Which did we pick:
    A, B or C?"), or the question about each of two named people. A statement that lists
    ("Branch names: a prefix, a ticket and a slug.") is not split: nothing asks about its items."""
    query = query.strip()
    if len(query) > MAX_CHARS or "\n" in query:
        return []
    lead, colon, listed = query.partition(": ")
    asked = query.endswith("?") or _POINTS_AHEAD.search(lead)
    if colon and asked and ":" not in listed and any(c.isalpha() for c in lead):
        items = [i for i in _ITEM_BREAK.split(listed.rstrip(" .?!")) if i.strip()]
        if MIN_ITEMS <= len(items) <= MAX_PARTS:
            return [f"{lead}: {item.strip()}" for item in items]
    pairs = _PAIR.finditer(query) if _JOINT.search(query) else ()
    for pair in pairs:
        names = pair[1], pair[2]
        if all(n[0].isupper() for n in names) and not {*names} & _NOT_PEOPLE and len({*names}) == 2:
            return [query[: pair.start()] + name + query[pair.end() :] for name in names]
    return []


def interleaved(rankings: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """(ranking, position) of each id in turn: every ranking's first, then every second, ...,
    an id already taken skipped."""
    taken: set[str] = set()
    out = []
    for position in range(max(map(len, rankings), default=0)):
        for which, ids in enumerate(rankings):
            if position < len(ids) and ids[position] not in taken:
                taken.add(ids[position])
                out.append((which, position))
    return out


class Ranking(Protocol):
    """What `merged` reads of a ranking (ranker._Ranked): its hits, best first."""

    ids: list[str]
    fields: list[dict[str, Any]]
    spans: list[tuple[int, int] | None]
    feats: np.ndarray


def merged(
    index: ScopeIndex,
    qvec: np.ndarray,
    share: float,
    k: int,
    parts: Sequence[Ranking],
    whole: Ranking,
    texts: Sequence[str],
) -> tuple[list[str], list[dict[str, Any]], list[tuple[int, int] | None], np.ndarray]:
    """The parts' rankings taken in turn, under the dense floor of the whole question (`qvec`):
    its hits, best first, as ids, fields, spans and feature rows. `whole` (the question ranked
    as one) supplies the floor's candidates where the parts' hits lack them. Scores fall in the
    returned order: a hit moved up is scored as the best hit below it, the difference shown as
    its `dense_floor` or `query_parts` part."""
    picks = interleaved([p.ids for p in parts])
    seen = {parts[w].ids[at] for w, at in picks}
    rankings = [*parts, whole]
    picks += [(len(parts), at) for at, i in enumerate(whole.ids) if i not in seen]
    ids = [rankings[w].ids[at] for w, at in picks]
    dense = index.similarities(qvec, np.asarray([index.pos[i] for i in ids], dtype=np.int64))
    order, floored = with_dense_floor(-np.arange(len(ids), dtype=np.float64), dense, share, k)
    chosen = [picks[i] for i in order.tolist()]
    scores = np.asarray([rankings[w].fields[at]["score"] for w, at in chosen], dtype=np.float64)
    raised = np.maximum.accumulate(scores[::-1])[::-1] - scores if scores.size else scores
    fields = []
    for (w, at), lift, by_floor in zip(chosen, raised.tolist(), floored.tolist(), strict=True):
        hit = dict(rankings[w].fields[at], parts=dict(rankings[w].fields[at]["parts"]))
        if w < len(parts):
            hit["explanation"] += f"; found for part of the question: {texts[w]!r}"
        if lift > 0:
            key = "dense_floor" if by_floor else "query_parts"
            hit["parts"][key] = hit["parts"].get(key, 0.0) + lift
            hit["score"] += lift
        if by_floor and FLOOR_NOTE not in hit["explanation"]:
            hit["explanation"] += f"; {FLOOR_NOTE}"
        fields.append(hit)
    feats = np.stack([rankings[w].feats[at] for w, at in chosen]) if chosen else whole.feats[:0]
    return (
        [rankings[w].ids[at] for w, at in chosen],
        fields,
        [rankings[w].spans[at] for w, at in chosen],
        feats,
    )
