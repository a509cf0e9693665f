"""What a recall hit says about itself: its score's parts (each signal times its weight) and a
sentence a person can read, in `RecallHit.parts` and `RecallHit.explanation`."""

from __future__ import annotations

from typing import Any

import numpy as np

from engram_agents.store import fusion
from engram_agents.store.index import ScopeIndex

FLOOR_NOTE = "kept among the most similar (dense floor)"


def parts(
    weighted: list[float], repeats: float, lifted: float, sentence: float = 0.0
) -> dict[str, float]:
    """Each signal times its weight; with what repeating a better hit took away
    (`redundancy`) and what the dense floor added, they sum to the score. `sentence`: the
    part of the similarity's that its best sentence added (store.sentences)."""
    out = dict(zip(fusion.FEATURES, weighted, strict=True))
    if sentence:
        out["similarity"] -= sentence
        out["sentence"] = sentence
    if repeats > 0:
        out["redundancy"] = -repeats
    if lifted > 0:
        out["dense_floor"] = lifted
    return out


def hit_fields(
    index: ScopeIndex,
    hashed: dict[str, str],
    columns: tuple[np.ndarray, ...],
    flags: list[list[bool]],
) -> tuple[list[dict[str, Any]], list[tuple[int, int] | None]]:
    """Each hit's `RecallHit` fields but its engram, and its passage's span. `columns`: per
    hit, in order, its row, passage, score, similarity, weighted signals, what repeating a
    better hit took away, what the dense floor added and its sentence's part of the
    similarity; `flags`: `explain`'s rules, one list each. Every array is turned into Python
    values in one conversion (`tolist` gives what `float` and `bool` give)."""
    fields, spans = [], []
    for row, passage, score, sim, parts_, repeats, lifted, part, *said in zip(
        *(c.tolist() for c in columns), *flags, strict=True
    ):
        matched = sorted(hashed[t] for t in hashed.keys() & index.tags[row])
        span = index.passage_span(passage)
        spans.append(span)
        fields.append(
            {
                "score": score,
                "similarity": sim,
                "matched_tags": matched,
                "explanation": explain(sim, matched, span, *said),
                "parts": parts(parts_, repeats, lifted, part),
            }
        )
    return fields, spans


def explain(
    similarity: float,
    matched: list[str],
    span: tuple[int, int] | None,
    in_time: bool,
    asks: bool,
    by_floor: bool,
    by_sentence: bool,
    replied: bool,
    preferred: bool,
    users_words: bool,
    models_words: bool,
    answers: bool,
) -> str:
    """The hit's reasons in words: its similarity, shared tags and the rules that moved it."""
    said = [f"similarity {similarity:.2f}"]
    if span:
        said[0] += f" (best passage: characters {span[0]}-{span[1]})"
    said.append(f"matched tags: {', '.join(matched)}" if matched else "no shared tags")
    if in_time:
        said.append("inside the time the query names")
    if asks:
        said.append("a question, ranked below statements")
    if by_floor:
        said.append(FLOOR_NOTE)
    if by_sentence:
        said.append("a sentence of it matched the query better")
    if replied:
        said.append("the reply to a question that shares the query's tags")
    if preferred:
        said.append("a standing preference, and the query asks for something to be done")
    if users_words:
        said.append("said by the user, and the query asks about the user's own things")
    if models_words:
        said.append("said by the assistant, and the query asks what the assistant said")
    if answers:
        said.append("holds the kind of answer the query asks for (a number, time or name)")
    return "; ".join(said)
