"""Rules that change engrams over time: near-duplicates reinforce, new statements about the same
subject supersede, overlapping short-term engrams merge, and unused ones fade."""

from __future__ import annotations

import re

import numpy as np

from engram_agents.store.records import Engram, Evidence, Tier, Version, utcnow
from engram_agents.store.sketch import ASKS, MODEL_ROLES, REQUEST, is_asking, stem

_CHANGE_VERB = (
    r"mov(?:ed|ing)|move|changed?|rescheduled?|postponed?|push(?:ed)?|renamed?|replaced?|"
    r"cancel(?:l)?(?:ed|ing)?|called off|updated?|switch(?:ed|ing)?"
)
_CHANGE_CUE = re.compile(
    rf"\b({_CHANGE_VERB}|instead|no longer|anymore|from now on|going forward|actually|now)\b",
    re.I,
)
# "could you move the review to 3 pm?" asks for a change
_CHANGE_REQUEST = re.compile(rf"{REQUEST}.*\b(?:{_CHANGE_VERB})\b", re.I)


def keywords(tags: list[str]) -> set[str]:
    return {t for t in tags if t.startswith(("kw:", "name:", "ent:"))}


def _subject_keywords(engram: Engram, who: str | None) -> set[str]:
    """Keywords without the speaker's name, which every one of their turns shares."""
    parts = (who or "").split()
    own = {f"kw:{stem(part)}" for part in parts} | {f"name:{part}" for part in parts}
    return keywords(engram.sketch) - own


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def overlap(a: set[str], b: set[str]) -> float:
    """Shared share of the smaller set: an update restates the subject in fewer words than the
    original fact ("the dentist moved me to Friday" vs a full appointment with place and time)."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def supersedes(
    new: Engram,
    old: Engram,
    similarity: float,
    min_sim: float,
    min_kw: float,
    *,
    assistant_supersedes: bool = False,
) -> bool:
    """A new statement about the same subject (related text, shared subject keywords) that says
    it changes something ("moved", "instead", "no longer"). Without such a word two similar
    statements are both kept: near-identical episodes are common and must not hide each other.
    One speaker does not update what another said. A turn that ends by asking states nothing:
    it is never updated, and updates only when it asks for a change ("could you move it to
    Friday?"); "which day is my 1:1 now?" changes nothing, though it says "now". A request
    ("could you book a haircut on Saturday?") states a plan, which a later change updates."""
    who, old_who = ((e.speaker or "").lower() or None for e in (new, old))
    if similarity < min_sim or (who and old_who and who != old_who):
        return False
    if not can_supersede(new, assistant_supersedes=assistant_supersedes) or is_asking(old.text):
        return False
    return overlap(_subject_keywords(new, who), _subject_keywords(old, who)) >= min_kw


def can_supersede(new: Engram, *, assistant_supersedes: bool = False) -> bool:
    """The part of `supersedes` that looks at the new statement alone: when it says no, nothing
    stored can be superseded by `new`, and a remember reads no stored engram to find out."""
    who = (new.speaker or "").lower() or None
    if not assistant_supersedes and who in MODEL_ROLES:
        return False
    if new.text.rstrip().endswith("?") and not _CHANGE_REQUEST.search(new.text):
        return False
    return bool(_CHANGE_CUE.search(new.text))


def reinforce(existing: Engram, duplicate: Engram) -> Engram:
    """Fold a near-duplicate into the engram it repeats: more activation, every pointer kept,
    and a pointer to the session that said it again (so forgetting that session finds it)."""
    session = duplicate.scope.session_id
    said_in = [Evidence(session_id=session)] if session else []
    evidence = existing.metadata.evidence + [
        e for e in [*duplicate.metadata.evidence, *said_in] if e not in existing.metadata.evidence
    ]
    stats = existing.stats.model_copy(
        update={"activations": existing.stats.activations + 1, "strength": 1.0}
    )
    return existing.model_copy(
        update={
            "metadata": existing.metadata.model_copy(update={"evidence": evidence}),
            "stats": stats,
            "history": [
                *existing.history,
                Version(action="reinforced", text=duplicate.text, session_id=session),
            ],
        }
    )


def merge(group: list[Engram], vectors: np.ndarray) -> tuple[Engram, np.ndarray]:
    """One long-term engram from overlapping ones; it keeps every evidence pointer of every source
    plus a pointer to each source engram."""
    first = group[0]
    texts: list[str] = []
    evidence: list[Evidence] = []
    for engram in group:
        if engram.text not in texts:
            texts.append(engram.text)
        source = Evidence(engram_id=engram.id, session_id=engram.scope.session_id)
        for pointer in [*engram.metadata.evidence, source]:
            if pointer not in evidence:
                evidence.append(pointer)
    times = [e.metadata.event_time for e in group if e.metadata.event_time]
    metadata = first.metadata.model_copy(
        update={
            "created_at": utcnow(),
            "event_time": min(times) if times else None,
            "evidence": evidence,
            "confidence": max(e.metadata.confidence for e in group),
        }
    )
    stats = first.stats.model_copy(
        update={
            "activations": sum(e.stats.activations for e in group),
            "usefulness": max(e.stats.usefulness for e in group),
            "strength": 1.0,
        }
    )
    merged = Engram(
        scope=first.scope,
        text="\n".join(texts),
        sketch=_merged_sketch(group),
        metadata=metadata,
        stats=stats,
        tier=Tier.LONG,
        history=[
            Version(action="merged", engram_id=e.id, text=e.text, session_id=e.scope.session_id)
            for e in group
        ],
    )
    mean = vectors.mean(axis=0)
    return merged, mean / max(float(np.linalg.norm(mean)), 1e-12)


def _merged_sketch(group: list[Engram]) -> list[str]:
    """Every source's tags; `ASKS` only if every source is asking."""
    tags = {t for e in group for t in e.sketch} - {ASKS}
    if all(ASKS in e.sketch for e in group):
        tags.add(ASKS)
    return sorted(tags)


def merge_groups(
    engrams: list[Engram], vectors: np.ndarray, min_sim: float, min_kw: float
) -> list[list[int]]:
    """Greedy clusters (indices into `engrams`) of two or more mutually overlapping engrams."""
    used: set[int] = set()
    groups = []
    for i in range(len(engrams)):
        if i in used:
            continue
        near = np.flatnonzero(vectors[i + 1 :] @ vectors[i] >= min_sim) + i + 1
        group = [i]
        for j in (int(n) for n in near if int(n) not in used):
            if all(
                float(vectors[m] @ vectors[j]) >= min_sim
                and jaccard(keywords(engrams[m].sketch), keywords(engrams[j].sketch)) >= min_kw
                for m in group
            ):
                group.append(j)
        if len(group) > 1:
            used.update(group)
            groups.append(group)
    return groups
