"""What a recall hit says about itself: its score's parts (each signal times its weight) and a
sentence a person can read, in `RecallHit.parts` and `RecallHit.explanation`."""

from __future__ import annotations

from engram_agents.store import fusion

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


def explain(
    similarity: float,
    matched: list[str],
    span: tuple[int, int] | None,
    in_time: bool,
    asks: bool,
    by_floor: bool,
    by_sentence: bool,
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
    if preferred:
        said.append("a standing preference, and the query asks for something to be done")
    if users_words:
        said.append("said by the user, and the query asks about the user's own things")
    if models_words:
        said.append("said by the assistant, and the query asks what the assistant said")
    if answers:
        said.append("holds the kind of answer the query asks for (a number, time or name)")
    return "; ".join(said)
