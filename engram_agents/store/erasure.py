"""What a delete or forget removes besides the rows it names. Text of an engram is copied into
other engrams: a superseding engram keeps the text it replaced, a reinforced one the repeat, a
merged one every source. A delete must take those copies out too, or `get`, `export` and
`recall` keep returning what the user deleted.

Rules (one user at a time):
- every history entry naming a removed engram, or holding a removed text, is dropped from every
  other engram; evidence pointers to a removed engram go too; an engram superseded by a removed
  one is current again (the update it had is gone);
- forgetting a session removes each statement made in it: an engram the session created is
  deleted (its reinforcements repeat its text almost word for word), a reinforcement the
  session added is taken out of the engram it reinforced (history entry, evidence pointer,
  activation), and a merged engram loses the sources from that session (it is rebuilt from
  the rest, or deleted when none is left)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engram_agents.store.records import Engram, Version
from engram_agents.store.sketch import engram_sketch

SAID = ("reinforced", "merged")  # history entries that hold a statement of the engram itself


@dataclass
class Erasure:
    deleted: dict[str, Engram] = field(default_factory=dict)
    rewritten: dict[str, Engram] = field(default_factory=dict)  # new versions, copies removed
    retexted: set[str] = field(default_factory=set)  # rewritten ids whose text changed
    partial: set[str] = field(default_factory=set)  # kept ids that lost a session's statement
    before: dict[str, Engram] = field(default_factory=dict)  # rewritten ids as they were

    def gone(self) -> list[Engram]:
        """Engrams whose text is no longer stored as it was (for the model to forget)."""
        return [*self.deleted.values(), *(self.before[i] for i in self.retexted)]


def may_refer(body: bytes) -> bool:
    """Whether a stored engram (its JSON, as the codec writes it) can hold a copy of another's
    text or id: only one with history, evidence or a successor. History and successor are the
    last fields, evidence is the first key named so (strings before it are escaped), so neither
    a text nor user metadata can fake them."""
    at = body.find(b'"evidence":')
    empty = body.endswith(b',"superseded_by":null,"history":[]}') and body.startswith(
        b'"evidence":[]', at
    )
    return not empty


def _merged(engram: Engram) -> list[Version]:
    return [v for v in engram.history if v.action == "merged"]


def _from_session(engram: Engram, session_id: str) -> bool | None:
    """Whether every statement of the engram was made in the session (None: only some)."""
    sources = _merged(engram)
    if not sources or any(v.session_id is None for v in sources):  # not merged, or an old merge
        return engram.scope.session_id == session_id
    inside = [v.session_id == session_id for v in sources]
    return True if all(inside) else (None if any(inside) else False)


def _rebuild(engram: Engram, session_id: str) -> Engram:
    """A merged engram without its sources from the session."""
    kept = [v for v in _merged(engram) if v.session_id != session_id]
    text = "\n".join(dict.fromkeys(v.text or "" for v in kept))
    history = [v for v in engram.history if v.action != "merged" or v.session_id != session_id]
    rebuilt = engram.model_copy(
        update={
            "text": text,
            "scope": engram.scope.model_copy(update={"session_id": kept[0].session_id}),
            "history": history,
        }
    )
    rebuilt.sketch = engram_sketch(text, rebuilt.when, rebuilt.speaker)
    return rebuilt


def plan(engrams: list[Engram], selected: set[str], session_id: str | None = None) -> Erasure:
    """Erase the `selected` engrams of one user (with `session_id`: the statements of that
    session among them) and every copy of their text in `engrams` (all of the user's)."""
    out = Erasure()
    original = {e.id: e for e in engrams}
    current = dict(original)
    gone_ids: set[str | None] = set()
    gone_texts: set[str | None] = set()
    for engram_id in selected:
        engram = original[engram_id]
        whole = True if session_id is None else _from_session(engram, session_id)
        if whole:
            out.deleted[engram_id] = engram
            gone_ids.add(engram_id)
            gone_texts |= {engram.text, *(v.text for v in engram.history if v.action in SAID)}
        elif whole is None:
            current[engram_id] = _rebuild(engram, session_id)
            out.retexted.add(engram_id)
            for v in _merged(engram):
                if v.session_id == session_id:
                    gone_ids.add(v.engram_id)
                    gone_texts.add(v.text)
    gone_ids.discard(None)
    gone_texts.discard(None)
    for engram_id, engram in current.items():
        if engram_id in out.deleted:
            continue
        scrubbed = _scrub(engram, gone_ids, gone_texts, session_id)
        if scrubbed is engram and engram_id not in out.retexted:
            continue
        if session_id is not None and _said_in(original[engram_id], session_id):
            out.partial.add(engram_id)
        out.rewritten[engram_id] = scrubbed
        out.before[engram_id] = original[engram_id]
    return out


def _said_in(engram: Engram, session_id: str) -> bool:
    """Whether a statement folded into the engram (not its own) came from the session."""
    return any(v.session_id == session_id for v in engram.history) or any(
        p.session_id == session_id for p in engram.metadata.evidence
    )


def _scrub(
    engram: Engram, gone_ids: set[str], gone_texts: set[str | None], session_id: str | None
) -> Engram:
    def kept(v: Version) -> bool:
        said_then = session_id is not None and v.session_id == session_id
        return not (v.engram_id in gone_ids or v.text in gone_texts or said_then)

    history = [v for v in engram.history if kept(v)]
    evidence = [
        p
        for p in engram.metadata.evidence
        if p.engram_id not in gone_ids and (session_id is None or p.session_id != session_id)
    ]
    unchanged = history == engram.history and evidence == engram.metadata.evidence
    if unchanged and engram.superseded_by not in gone_ids:
        return engram
    repeats = sum(v.action == "reinforced" for v in engram.history if not kept(v))
    stats = engram.stats.model_copy(
        update={"activations": max(0, engram.stats.activations - repeats)}
    )
    superseded_by = None if engram.superseded_by in gone_ids else engram.superseded_by
    return engram.model_copy(
        update={
            "history": history,
            "metadata": engram.metadata.model_copy(update={"evidence": evidence}),
            "stats": stats,
            "superseded_by": superseded_by,
        }
    )
