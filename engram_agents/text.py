"""English word rules shared by the episodic store's sketch and the model's token compression.

Both leave out function words and fold word endings, but for different readers, so each adds to
one shared list and each keeps its own stem:

- the sketch (`store/sketch.py`) tags whole words for recall and audits: it also drops
  contractions, filler and the relative-time words it parses into dates ("last", "today"), and
  stems with Snowball, so "appointment" and "appointments" share a tag;
- the compression (`model/compression.py`) keys Engram's tables on tokenizer pieces: it also
  drops what people say when they ask a memory for something ("tell", "remember"), which would
  otherwise key every question, and stems lightly (plural -s, -ing, -ed) because a piece is often
  only part of a word. Its canonical ids address the memorized tables: changing either rule
  makes every saved table unreadable.
"""

from __future__ import annotations

from functools import cache, lru_cache

FUNCTION_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could d did do does doing don down during each
    ever few for from further had has have having he hello her here hers herself hey hi him
    himself his how i i'm if in into is it its itself just ll m may me might more most must my
    myself no nor not of off ok okay on once only or other our ours ourselves out over own re s
    same shall she should so some such t than thank thanks that the their theirs them
    themselves then there these they this those through to too under until up ve very was we
    were what what's when where which while who whom why will with would yes you your yours
    yourself yourselves""".split()
)
"""Words neither the sketch nor the compression keys on."""

SKETCH_STOP_WORDS = FUNCTION_WORDS | frozenset(
    """ago aren't can't cannot couldn't didn't doesn't don't get go going gone got gotten
    hadn't hasn't haven't he'd he'll he's here's how's i'd i'll i've isn't it's last let's like
    lot lots many much mustn't next oh one ought pm really shan't she'd she'll she's shouldn't
    that's there's they'd they'll they're they've today tomorrow tonight wasn't we'd we'll
    we're we've went weren't when's where's who's why's won't wouldn't wow yeah yesterday
    you'd you'll you're you've""".split()
)
"""Words that never become a sketch keyword or name."""

KEY_STOP_WORDS = FUNCTION_WORDS | frozenset(
    """anything everything im know let need now o please recall remember remind said say
    someone something still tell think whats y yet""".split()
)
"""Token texts that never key Engram's tables."""


@cache
def _snowball():
    """Built on first use: importing nltk takes about a second (it loads scipy and sklearn),
    which code that never stems need not pay."""
    from nltk.stem.snowball import SnowballStemmer

    return SnowballStemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball's English stem of a whole lower-case word (the sketch's `kw:` tags)."""
    return _snowball().stem(word)


def light_stem(word: str) -> str:
    """A lower-case alphabetic word without a plural -s or an -ing/-ed ending, each cut only when
    the rest stays long enough to be a word ("dentists" -> "dentist", "deployed" -> "deploy",
    but "speed" and "bus" stay)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word
