"""Sketch: a rule-based, human-readable set of canonical tags for an engram or a query.

Tags are `kind:value` strings: `kw:` stemmed keywords, `name:` capitalized names, `ent:` multi-word
names, `num:` numbers, `time:` clock times and `date:`/`week:`/`month:`/`year:` normalized dates; a
stored text also gets marks (`engram_sketch`): `act:ask` when it ends by asking, `holds:` the
kinds of answer it holds, who said it.
They are what the first retrieval stage filters on and what a person reads in an audit."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from engram_agents.store.timeexpr import WEEKDAYS, TimeMention, find_time_mentions, time_tags
from engram_agents.text import SKETCH_STOP_WORDS as STOPWORDS
from engram_agents.text import stem  # also what the store's lifecycle stems names with

_NUMBER_WORDS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "hundred": 100, "thousand": 1000, "dozen": 12,
}  # fmt: skip
_NOT_NAMES = frozenset(
    [
        *WEEKDAYS,
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december",
        "i", "i'm", "i've", "i'll", "i'd", "ok", "okay",
    ]
)  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’\-]*[A-Za-z]|[A-Za-z]|\d+(?:[.,]\d+)*")
_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?\b|\b(\d{1,2}):(\d{2})\b", re.I)
_SENTENCE_MARKS = frozenset('.!?:;"“”()\n')
# "Could you book a haircut for Saturday?" asks for something and so states a plan; "which day
# is my 1:1 now?" only asks.
REQUEST = r"\b(?:(?:can|could|would|will) (?:you|we)|please)\b"
_REQUEST_CUE = re.compile(REQUEST, re.I)
ASKS = "act:ask"
# Who said a stored turn, when its speaker is a chat role: the user, or the model and its
# machinery. Recall reads them as a prior that each store learns (`FusionWeights.said_by_user`);
# no query holds them, and they do not count in a turn's length for the tag score.
SAID_BY_USER = "said:user"
SAID_BY_MODEL = "said:model"
USER_ROLES = frozenset({"user", "human"})
MODEL_ROLES = frozenset({"assistant", "ai", "model", "system", "tool", "function"})
# A turn that sets how the speaker wants things done from now on (`states_preference`). A later
# request it applies to ("add a Supplier model") seldom shares its words ("always include the
# migration"), so recall reads the mark as a prior for requests (`FusionWeights.preference`).
PREFERS = "act:prefers"
# The kinds of answer a stored text holds, read from its own tags (`holds`): a number, a time or
# date, a name. A question asks for one kind ("How many...?", "When...?", "Who...?":
# query_reading.asks_for); the turn that answers it holds that kind where the talk around it on
# the same topic often does not, so recall reads the mark as a prior (`FusionWeights.answer_kind`).
HOLDS = {"number": "holds:number", "time": "holds:time", "name": "holds:name"}
_KIND_OF_TAG = {"num": "number", "name": "name", "ent": "name"} | dict.fromkeys(
    ("time", "date", "week", "month", "year"), "time"
)
# Words that say when though no date resolves from them ("on Saturday", "at the weekend").
_WHEN_WORDS = frozenset(
    f"kw:{stem(w)}" for w in ("weekend", "tonight", "tomorrow", "yesterday", *WEEKDAYS)
)
# The tags that mark a stored turn rather than tell what it says.
MARKS = frozenset({ASKS, PREFERS, SAID_BY_USER, SAID_BY_MODEL, *HOLDS.values()})
_STANDING = re.compile(
    r"(?:^|[.!?;:\n]\s*|\b(?:please|you|to)\s+)(?:always|never)\b"
    r"|\b(?:from now on|going forward|in future|for future|whenever you|every time you)\b"
    r"|\b(?:i|we)\b[^.!?\n]{0,20}\b(?:prefer|rather)\b|(?:^|[.!?;:\n]\s*)prefer\b"
    r"|\b(?:my|a|the) preference\b|\bpreference (?:for|is)\b|\b(?:how|the way) I like\b"
    r"|\bI (?:\w+ )?(?:want|like|need) [^.!?\n]{1,60}, not\b"
    r"|\bI (?:want|need) (?:it|them|answers|replies|code|things) to be\b"
    r"|\bI (?:hate|hated|dislike|can't stand|don't like)\b|\b(?:another|a new|one more) rule\b"
    r"|\b(?:please )?(?:don't|do not) ever\b|\bplease (?:stick|keep) (?:to|with)\b"
    r"|(?:\bfor|^|[.!?;:,]|\band|\bplease),?\s*anything "
    r"(?:to do with|about|related to|involving)\b",
    re.I,
)
# A clause that speaks of the speaker in the first person and is not itself a question.
_CLAUSE = re.compile(r"[.!?;,:\n]+|\s[-–—]\s")
_QUESTION_START = re.compile(
    r"^(?:what|when|where|who|whom|whose|which|why|how|is|are|was|were|do|does|did|can|could|"
    r"would|will|should|shall|have|has|had|may|might|isn't|aren't|don't|doesn't|didn't|any|so)\b",
    re.I,
)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|my|mine|me|we|we're|we've|our|us)\b", re.I)


# Words after which a name is the one spoken to ("Hey Mel!", "Thanks Jon,").
_GREETING = re.compile(
    r"\b(?:hey|hi|hello|thanks|thank you|congrats|congratulations|wow|yeah|yes|oh|dear|bye)"
    r"\s*,?\s*$",
    re.I,
)


_OPENER_WORDS = 3  # "Oh my god, Mel, ...": a longer clause before "X, Name," is no opener


def _addressed(text: str, start: int, end: int) -> bool:
    """The name at text[start:end] is direct address, set off by punctuation or after a
    greeting ("Wow, Melanie, what a moment!", "Thanks, Jon!", "Hey Mel!"): it names the
    listener, not whom the turn is about, so it gets no `name:` tag (its `kw:` tag stays).
    Set off by commas after a longer clause it is an apposition, a mention ("this guy on
    another team, Callum, who came over")."""
    after = text[end : end + 1]
    if after not in ("", ",", "!", "?", "."):
        return False
    before = text[max(0, start - 24) : start]
    if _GREETING.search(before):
        return True
    if not before.rstrip().endswith(","):
        return False
    clause = re.split(r"[.!?:;\n]", text[:start].rstrip()[:-1])[-1].split()
    return after != "," or len(clause) <= _OPENER_WORDS


def _sentence_start(text: str, start: int) -> bool:
    """A token at `start` opens the text, a line or a sentence (or follows a quote or bracket):
    a capital there is no sign of a name. Looks back over the whitespace before it only, so a
    long text costs a step per token, not a scan of everything before it."""
    if start == 0:
        return True
    i = start
    while i > 0 and text[i - 1].isspace():
        if text[i - 1] == "\n":
            return True
        i -= 1
    return i > 0 and text[i - 1] in _SENTENCE_MARKS


def _clock_tags(text: str) -> list[str]:
    tags = []
    for m in _CLOCK.finditer(text):
        if m.group(3):
            hour = int(m.group(1)) % 12 + (12 if m.group(3).lower() == "p" else 0)
            minute = int(m.group(2) or 0)
        else:
            hour, minute = int(m.group(4)), int(m.group(5))
        if hour < 24 and minute < 60:
            tags.append(f"time:{hour:02d}:{minute:02d}")
    return tags


def _number(token: str) -> str | None:
    if token[0].isdigit():
        value = token.replace(",", "")
        try:
            number = float(value)
        except ValueError:
            return None
        return f"{number:g}"
    word = token.lower()
    return str(_NUMBER_WORDS[word]) if word in _NUMBER_WORDS else None


@lru_cache(maxsize=200_000)
def _keyword(lower: str) -> str | None:
    """The `kw:` tag of a lower-case token, if it is no stop word: long texts repeat their
    words, so each is stemmed and tagged once."""
    if lower in STOPWORDS:
        return None
    word = lower.removesuffix("'s").strip("'-")
    return f"kw:{stem(word)}" if len(word) > 1 and word not in STOPWORDS else None


def extract_sketch(
    text: str, now: datetime | None = None, mentions: list[TimeMention] | None = None
) -> list[str]:
    """Canonical tags of `text`; relative dates ("yesterday") resolve against `now` when given,
    or come already found as `mentions` (recall parses a query's time expressions once)."""
    tags: set[str] = set()
    run: list[str] = []

    def close_run() -> None:
        if len(run) > 1:
            tags.add("ent:" + " ".join(run))
        run.clear()

    for match in _TOKEN.finditer(text):
        token = match.group(0).replace("’", "'")
        lower = token.lower()
        if token[0].isdigit() or lower in _NUMBER_WORDS:
            number = _number(token)
            if number is not None:
                tags.add(f"num:{number}")
                close_run()
                continue
        start = match.start()
        if start and text[start - 1] == "[":
            continue  # a redaction placeholder such as [EMAIL]
        if _capitalized_word(token, lower):
            base = lower.removesuffix("'s")
            if _mentioned(text, start, match.end()):
                tags.add(f"name:{base}")
            if run and text[start - 1 : start] != " ":
                close_run()
            run.append(base)
        elif run:
            close_run()
        if keyword := _keyword(lower):
            tags.add(keyword)
    close_run()
    tags.update(_clock_tags(text))
    if mentions is None and now is not None:
        mentions = find_time_mentions(text, now)
    for mention in mentions or ():
        tags.update(time_tags(mention))
    return sorted(tags)


def names_of(text: str) -> set[str]:
    """The `name:` tags `extract_sketch` gives `text`, read from its capitalized tokens alone
    (a tenth of the work on a long turn)."""
    names = set()
    for match in _TOKEN.finditer(text):
        token, start = match.group(0), match.start()
        if not token[0].isupper() or (start and text[start - 1] == "["):
            continue
        lower = token.replace("’", "'").lower()
        if (
            lower not in _NUMBER_WORDS
            and _capitalized_word(token, lower)
            and _mentioned(text, start, match.end())
        ):
            base = lower.removesuffix("'s")
            names.add(f"name:{base}")
    return names


def _capitalized_word(token: str, lower: str) -> bool:
    """A capitalized token that may be a name: no weekday, month, "I" or stop word."""
    return token[0].isupper() and lower not in _NOT_NAMES and lower not in STOPWORDS


def _mentioned(text: str, start: int, end: int) -> bool:
    """A capitalized word at text[start:end] that is neither a sentence's first nor an address."""
    return not _sentence_start(text, start) and not _addressed(text, start, end)


def is_asking(text: str) -> bool:
    """Ends by asking, and asks for nothing to be done: such a turn hands the conversation back
    and states no fact worth memorizing ("Ceramics! What did you make?"), neither updates nor
    is updated, and ranks below statements at recall. Judged by the last sentence: on LoCoMo
    files, ranking only all-question turns lower kept most of the chit-chat in the top k."""
    return text.rstrip().endswith("?") and not _REQUEST_CUE.search(text)


def states_own(text: str) -> bool:
    """Some clause tells something about the speaker: it speaks in the first person and is not
    itself a question ("I'm vegetarian, what should I eat after a run?"). Users of an assistant
    state their facts inside their questions: on LoCoMo, asking turns with such a clause were
    evidence as often as any turn, the others rarely (benchmarks/RESULTS.md)."""
    return any(
        _FIRST_PERSON.search(c) and not _QUESTION_START.match(c) and len(c.split()) >= 2
        for c in (part.strip() for part in _CLAUSE.split(text))
    )


def states_preference(text: str) -> bool:
    """Some clause sets a standing preference or instruction: "Always include the migration",
    "please never use unittest", "from now on give me diffs", "I prefer short answers"."""
    return bool(_STANDING.search(text))


def speaker_tag(speaker: str | None) -> list[str]:
    """A named speaker's turn carries their name as a `name:` tag, as a mention would: "What
    has Melanie painted?" is about Melanie's own turns ("Melanie: I painted a sunrise"). Without
    it, the name tag of a two-person dialogue sat only on the other speaker's turns that
    address them ("Wow, Melanie, ..."), was rare there and so weighed most, and ranked those
    replies above the named person's own statements. Roles ("user", "assistant") are no names."""
    if (speaker or "").lower() in USER_ROLES | MODEL_ROLES:
        return []
    return [f"name:{part.lower()}" for part in (speaker or "").split() if part[:1].isupper()]


def role_tag(speaker: str | None) -> list[str]:
    """`SAID_BY_USER` or `SAID_BY_MODEL` for a speaker that is a chat role, else nothing."""
    who = (speaker or "").lower()
    return [SAID_BY_USER] if who in USER_ROLES else [SAID_BY_MODEL] if who in MODEL_ROLES else []


def holds(tags: Iterable[str]) -> set[str]:
    """The `HOLDS` marks of a text whose own tags (not its speaker's name) are `tags`."""
    marks = set()
    for tag in tags:
        if (kind := tag.partition(":")[0]) in _KIND_OF_TAG:
            marks.add(HOLDS[_KIND_OF_TAG[kind]])
        elif tag in _WHEN_WORDS:
            marks.add(HOLDS["time"])
    return marks


def engram_sketch(text: str, when: datetime | None = None, speaker: str | None = None) -> list[str]:
    """The sketch of a stored text: its tags and what kinds of answer they hold (`holds`),
    `ASKS` when it only asks (`is_asking` and not `states_own`), `PREFERS` when it sets a
    standing preference and no model said it, the speaker's name as a `name:` tag
    (`speaker_tag`) and the speaker's `role_tag`. Queries are sketched with `extract_sketch`,
    so the marks never match one lexically; recall reads them as priors."""
    own = extract_sketch(text, when)
    tags = {*own, *holds(own), *speaker_tag(speaker), *role_tag(speaker)}
    if is_asking(text) and not states_own(text):
        tags.add(ASKS)
    if SAID_BY_MODEL not in tags and states_preference(text):
        tags.add(PREFERS)
    return sorted(tags)


def passage_sketch(
    text: str,
    spans: list[tuple[int, int]],
    when: datetime | None,
    keywords: int,
    speaker: str | None = None,
) -> list[str]:
    """The sketch of a long turn read as passages (`store.passages`): every tag but keywords
    (names, numbers, times, dates, `act:ask`) from the whole turn, and each passage's
    `keywords` most frequent keywords (longer first among equals), so a long answer carries its
    passages' topics rather than every word it uses, and matches fewer queries by accident."""
    tags = {t for t in engram_sketch(text, when, speaker) if not t.startswith("kw:")}
    for start, end in spans:
        counts: dict[str, int] = {}
        for match in _TOKEN.finditer(text[start:end]):
            word = match.group(0).lower().replace("’", "'").removesuffix("'s").strip("'-")
            if len(word) > 1 and word not in STOPWORDS and _number(word) is None:
                tag = f"kw:{stem(word)}"
                counts[tag] = counts.get(tag, 0) + 1
        ranked = sorted(counts, key=lambda t: (-counts[t], -len(t), t))
        tags.update(ranked[:keywords])
    return sorted(tags)
