"""Who a turn's "he" or "she" is: the person its session named last, a few turns before.

People say a name once and then use pronouns: "I met a guy called Callum from the team next
door", and two turns later "He's a sound engineer at one of the big theatres". A question about
Callum's job shares no tag with the turn that answers it, and a small encoder reads "He's a
sound engineer" as about nobody in particular. So a turn with a third-person pronoun carries the
`name:` tags of the nearest of its session's preceding `REACH` turns that names someone other
than its own speaker (and never its own speaker, nor a name it already holds).

A family word used as a name agrees with the pronoun: "he" does not mean "Mum", so "Callum
... Don't tell Mum yet ... He's a sound engineer" passes Callum on, not Mum (the nearest turn
whose names can be meant is taken).

The names are read from the turns' texts at write time, so a turn that names someone only
through such a tag passes nothing on. A delete or forget reads the names of the turns after an
erased one again (`reread`), so no name the erased text said stays behind in another's sketch.
Measured in benchmarks/RESULTS.md ("2026-12-07 (s34)", "s35")."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable

from engram_agents.store.records import Engram
from engram_agents.store.sketch import names_of, speaker_tag

REACH = 4  # turns: further back, the pronoun more likely means someone named since without a tag
_PRONOUN = re.compile(r"\b(?:he|she|him|her|his|hers|they|them|their)\b", re.I)
_HE = re.compile(r"\b(?:he|him|his)\b", re.I)
_SHE = re.compile(r"\b(?:she|her|hers)\b", re.I)
# Family words people use as names ("Don't tell Mum"), by the pronoun that can mean them.
_WOMEN = frozenset(
    "name:" + w
    for w in "mum mom mam mummy mommy mother gran granny grandma grandmother nan nana nanna "
    "aunt auntie aunty".split()
)
_MEN = frozenset(
    "name:" + w
    for w in "dad daddy father pa papa grandpa grandad granddad grandfather uncle".split()
)


def named(engram: Engram) -> frozenset[str]:
    """The `name:` tags of the people `engram`'s text names, its speaker not counted."""
    return _names(names_of(engram.text), engram)


def refers(engram: Engram) -> bool:
    """Whether `engram` says "he", "she", "they" or the like."""
    return bool(_PRONOUN.search(engram.content))


def _names(tags: Iterable[str], engram: Engram) -> frozenset[str]:
    return frozenset(t for t in tags if t.startswith("name:")) - set(speaker_tag(engram.speaker))


def _unmeant(engram: Engram) -> frozenset[str]:
    """The family names `engram`'s pronouns cannot mean: "Mum" for "he" alone, "Dad" for "she"
    alone; none for "they" or for both."""
    he, she = bool(_HE.search(engram.content)), bool(_SHE.search(engram.content))
    return _WOMEN if he and not she else _MEN if she and not he else frozenset()


class SessionNames:
    """Reads a session's turns in order (`earlier` ones first, oldest first) and tells each new
    one the names it refers to (`referred`)."""

    def __init__(self, earlier: Iterable[Engram] = ()) -> None:
        self._recent: deque[frozenset[str]] = deque(maxlen=REACH)  # the last turns' names
        for engram in earlier:  # their sketches may hold names they refer to: read the texts
            self._recent.append(named(engram))

    def referred(self, engram: Engram) -> set[str]:
        """The names `engram` refers to by pronoun and does not hold yet: those of the nearest
        of the last `REACH` turns that names someone its pronouns can mean; counts it as read.
        Its sketch must not hold referred names yet (it is read for the names it says)."""
        found: set[str] = set()
        if refers(engram):
            unmeant = _unmeant(engram)
            meant = (names - unmeant for names in reversed(self._recent))
            nearest = next((names for names in meant if names), frozenset())
            found = set(nearest) - set(engram.sketch) - set(speaker_tag(engram.speaker))
        self._recent.append(_names(engram.sketch, engram))
        return found


def reread(engram: Engram, earlier: Iterable[Engram]) -> list[str]:
    """`engram`'s sketch with the names it refers to read again after `earlier` (its session's
    turns before it, oldest first): those it took from a turn since erased are gone."""
    own = named(engram) | set(speaker_tag(engram.speaker))
    kept = engram.model_copy(
        update={"sketch": [t for t in engram.sketch if not t.startswith("name:") or t in own]}
    )
    return sorted({*kept.sketch, *SessionNames(earlier).referred(kept)})
