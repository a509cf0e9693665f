"""Who a turn's "he" or "she" is: the person its session named last, a few turns before.

People say a name once and then use pronouns: "I met a guy called Callum from the team next
door", and two turns later "He's a sound engineer at one of the big theatres". A question about
Callum's job shares no tag with the turn that answers it, and a small encoder reads "He's a
sound engineer" as about nobody in particular. So a turn with a third-person pronoun carries the
`name:` tags of the nearest of its session's preceding `REACH` turns that names someone other
than its own speaker (and never its own speaker, nor a name it already holds).

The names are read from the turns' texts at write time, so a turn that names someone only
through such a tag passes nothing on. A delete or forget reads the names of the turns after an
erased one again (`reread`), so no name the erased text said stays behind in another's sketch.
Measured in benchmarks/RESULTS.md ("2026-12-07 (s34)")."""

from __future__ import annotations

import re
from collections.abc import Iterable

from engram_agents.store.records import Engram
from engram_agents.store.sketch import names_of, speaker_tag

REACH = 4  # turns: further back, the pronoun more likely means someone named since without a tag
_PRONOUN = re.compile(r"\b(?:he|she|him|her|his|hers|they|them|their)\b", re.I)


def named(engram: Engram) -> frozenset[str]:
    """The `name:` tags of the people `engram`'s text names, its speaker not counted."""
    return _names(names_of(engram.text), engram)


def refers(engram: Engram) -> bool:
    """Whether `engram` says "he", "she", "they" or the like."""
    return bool(_PRONOUN.search(engram.content))


def _names(tags: Iterable[str], engram: Engram) -> frozenset[str]:
    return frozenset(t for t in tags if t.startswith("name:")) - set(speaker_tag(engram.speaker))


class SessionNames:
    """Reads a session's turns in order (`earlier` ones first, oldest first) and tells each new
    one the names it refers to (`referred`)."""

    def __init__(self, earlier: Iterable[Engram] = ()) -> None:
        self._names: frozenset[str] = frozenset()
        self._since = REACH + 1  # turns since the last one that named someone
        for engram in earlier:  # their sketches may hold names they refer to: read the texts
            self._step(named(engram))

    def referred(self, engram: Engram) -> set[str]:
        """The names `engram` refers to by pronoun and does not hold yet; counts it as read.
        Its sketch must not hold referred names yet (it is read for the names it says)."""
        found: set[str] = set()
        if self._since < REACH and refers(engram):
            found = self._names - set(engram.sketch) - set(speaker_tag(engram.speaker))
        self._step(_names(engram.sketch, engram))
        return found

    def _step(self, names: frozenset[str]) -> None:
        if names:
            self._names, self._since = names, 0
        else:
            self._since += 1


def reread(engram: Engram, earlier: Iterable[Engram]) -> list[str]:
    """`engram`'s sketch with the names it refers to read again after `earlier` (its session's
    turns before it, oldest first): those it took from a turn since erased are gone."""
    own = named(engram) | set(speaker_tag(engram.speaker))
    kept = engram.model_copy(
        update={"sketch": [t for t in engram.sketch if not t.startswith("name:") or t in own]}
    )
    return sorted({*kept.sketch, *SessionNames(earlier).referred(kept)})
