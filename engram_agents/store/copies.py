"""Which of a user's engrams hold a copy of another's text or id, so a delete reads only those.

Supersede, reinforce and merge copy text into an engram's history (with the id it came from and
the session it was said in), and evidence pointers and successors name other engrams. An erase
must rewrite every engram holding such a copy (`erasure`); looking them up here costs what the
copies cost, where reading all of the user's engrams to find them cost what the user's store
costs. Texts are kept as digests, never in clear. The map lives in memory beside the user's
`ScopeIndex`, at the same revision; it is built from the backend on the first erase and patched
after each of this process's own writes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from engram_agents.store.erasure import SAID, may_refer
from engram_agents.store.records import Engram
from engram_agents.store.rows import Codec, EngramRow

Key = tuple[str, str]


def _text(text: str) -> Key:
    return ("text", hashlib.blake2b(text.encode(), digest_size=16).hexdigest())


def held_keys(engram: Engram) -> set[Key]:
    """What the engram holds a copy of: ids, texts and sessions of its history, evidence and
    successor."""
    keys: set[Key] = set()
    for v in engram.history:
        keys |= {("id", v.engram_id), ("session", v.session_id)}
        if v.text is not None:
            keys.add(_text(v.text))
    for p in engram.metadata.evidence:
        keys |= {("id", p.engram_id), ("session", p.session_id)}
    keys.add(("id", engram.superseded_by))
    return {k for k in keys if k[1] is not None}


def erased_keys(engram: Engram, session_id: str | None) -> set[Key]:
    """The keys under which a copy of an erased engram (or of the session's statements in it)
    can be held: its id and text, and the ids and texts of the statements folded into it
    (what `erasure.plan` takes out of the other engrams)."""
    keys: set[Key] = {("id", engram.id), _text(engram.text)}
    for v in engram.history:
        if v.action in SAID:
            keys.add(("id", v.engram_id))
            if v.text is not None:
                keys.add(_text(v.text))
    if session_id is not None:
        keys.add(("session", session_id))
    return {k for k in keys if k[1] is not None}


class CopyIndex:
    """Key -> the ids of the engrams holding it, for one user at one revision."""

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self._held: dict[str, set[Key]] = {}
        self._holders: dict[Key, set[str]] = {}

    @classmethod
    def of(cls, rows: Iterable[EngramRow], revision: int, codec: Codec) -> CopyIndex:
        """Built from all of a user's rows, read at `revision`."""
        copies = cls(revision)
        copies.update(rows, [], codec)
        return copies

    def update(self, rows: Iterable[EngramRow], deletes: Iterable[str], codec: Codec) -> None:
        """Follow a write: rows written (new versions), ids deleted."""
        rows = list(rows)
        self.remove([*deletes, *(r.id for r in rows)])
        for row in rows:
            if may_refer(codec.plain(row)):  # most engrams hold no copy: skip decoding them
                self._add(row.id, held_keys(codec.to_engram(row)))

    def remove(self, ids: Iterable[str]) -> None:
        for engram_id in ids:
            for key in self._held.pop(engram_id, ()):
                holders = self._holders[key]
                holders.discard(engram_id)
                if not holders:
                    del self._holders[key]

    def _add(self, engram_id: str, keys: set[Key]) -> None:
        if keys:
            self._held[engram_id] = keys
        for key in keys:
            self._holders.setdefault(key, set()).add(engram_id)

    def holders(self, keys: Iterable[Key]) -> set[str]:
        return set().union(*(self._holders.get(k, ()) for k in keys))
