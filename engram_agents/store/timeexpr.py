"""Time expressions: absolute dates and relative phrases ("last week", "in May", "yesterday")
resolved against a reference time, so engrams and queries can be matched by when things happened."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dateutil import parser as date_parser

from engram_agents.store.errors import InvalidInputError
from engram_agents.store.records import TimeRange, as_utc

_FILLER = {"on", "at", "of", "the", "in"}
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
WEEKDAYS = tuple(name.lower() for name in calendar.day_name)  # monday first, as `weekday()`
_WEEKDAYS = {name: i for i, name in enumerate(WEEKDAYS)}
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple of": 2, "few": 3,
}  # fmt: skip

_MONTH_RE = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY_MONTH = re.compile(
    rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_RE}\.?(?:,?\s+(?P<year>\d{{4}}))?\b",
    re.I,
)
_MONTH_DAY = re.compile(
    rf"\b{_MONTH_RE}\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>\d{{4}}))?", re.I
)
_MONTH_YEAR = re.compile(
    rf"\b(?:in\s+|during\s+|of\s+)?{_MONTH_RE}\b(?:,?\s+(?P<year>\d{{4}}))?", re.I
)
_ISO = re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b")
_YEAR = re.compile(r"\b(?:in\s+)?(?P<year>(?:19|20)\d{2})\b")
_AGO = re.compile(
    r"\b(?P<n>\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|couple of|few)\s+"
    r"(?P<unit>day|week|month|year)s?\s+ago\b",
    re.I,
)
_RELATIVE = re.compile(
    r"\b(?P<word>yesterday|today|tonight|tomorrow|this morning|this evening|"
    r"(?P<which>last|this|next|past)\s+(?P<unit>week(?:end)?|month|year|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
    re.I,
)


@dataclass(frozen=True)
class TimeMention:
    """A time phrase found in text, with the range it denotes and how fine that range is."""

    text: str
    range: TimeRange
    granularity: str  # "day", "week", "month" or "year"


def parse_when(value: str | datetime) -> datetime:
    """Parse an absolute time such as "1:56 pm on 8 May, 2023" or an ISO string (UTC if naive)."""
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"time must be a datetime or a non-empty string, got {value!r}")
    try:
        return as_utc(date_parser.parse(value))
    except (ValueError, OverflowError):
        pass
    try:
        parsed, skipped = date_parser.parse(value, fuzzy_with_tokens=True)
    except (ValueError, OverflowError) as exc:
        raise InvalidInputError(f"cannot read {value!r} as a date/time: {exc}") from exc
    # Fuzzy parsing skips words; a skipped word that is not a connective means the text is not
    # a date ("call me maybe 5" must not become day 5 of this month).
    stray = [w for part in skipped for w in re.findall(r"\w+", part) if w.lower() not in _FILLER]
    if stray:
        raise InvalidInputError(f"cannot read {value!r} as a date/time: {stray[0]!r} is not a date")
    return as_utc(parsed)


def _day(year: int, month: int, day: int) -> TimeRange | None:
    try:
        start = datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None
    return TimeRange(start=start, end=start + timedelta(days=1))


def _month(year: int, month: int) -> TimeRange:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return TimeRange(start=start, end=end)


def _year(year: int) -> TimeRange:
    return TimeRange(
        start=datetime(year, 1, 1, tzinfo=UTC), end=datetime(year + 1, 1, 1, tzinfo=UTC)
    )


def _shift_months(moment: datetime, months: int) -> tuple[int, int]:
    index = moment.year * 12 + moment.month - 1 + months
    return index // 12, index % 12 + 1


def _relative(word: str, which: str | None, unit: str | None, now: datetime) -> TimeMention:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    word = word.lower()
    if word in ("today", "tonight", "this morning", "this evening"):
        return TimeMention(word, _day(today.year, today.month, today.day), "day")  # type: ignore[arg-type]
    if word in ("yesterday", "tomorrow"):
        day = today + timedelta(days=-1 if word == "yesterday" else 1)
        return TimeMention(word, _day(day.year, day.month, day.day), "day")  # type: ignore[arg-type]
    step = {"last": -1, "past": -1, "this": 0, "next": 1}[(which or "this").lower()]
    unit = (unit or "").lower()
    if unit in ("week", "weekend"):
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=step)
        start = monday + timedelta(days=5) if unit == "weekend" else monday
        return TimeMention(word, TimeRange(start=start, end=monday + timedelta(days=7)), "week")
    if unit == "month":
        year, month = _shift_months(today, step)
        return TimeMention(word, _month(year, month), "month")
    if unit == "year":
        return TimeMention(word, _year(today.year + step), "year")
    target = _WEEKDAYS[unit]
    delta = (today.weekday() - target) % 7 or 7
    day = today - timedelta(days=delta) if step <= 0 else today + timedelta(days=(7 - delta) or 7)
    return TimeMention(word, _day(day.year, day.month, day.day), "day")  # type: ignore[arg-type]


def _nearest_year(month: int, day: int, now: datetime) -> int:
    """A date stated without a year means its occurrence nearest to the reference time."""
    years = (now.year - 1, now.year, now.year + 1)
    return min(years, key=lambda y: abs((datetime(y, month, min(day, 28), tzinfo=UTC) - now).days))


def find_time_mentions(text: str, now: datetime) -> list[TimeMention]:
    """Every date or relative time phrase in `text`, resolved against `now`."""
    now = as_utc(now)
    mentions: list[TimeMention] = []
    taken: list[tuple[int, int]] = []

    def free(match: re.Match[str]) -> bool:
        return all(match.end() <= a or match.start() >= b for a, b in taken)

    def add(match: re.Match[str], mention: TimeMention | None) -> None:
        if mention is not None and mention.range.start is not None:
            mentions.append(mention)
            taken.append((match.start(), match.end()))

    for match in _ISO.finditer(text):
        rng = _day(int(match["year"]), int(match["month"]), int(match["day"]))
        add(match, rng and TimeMention(match[0], rng, "day"))
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        for match in pattern.finditer(text):
            if not free(match):
                continue
            month, day = _MONTHS[match["month"].lower()[:3]], int(match["day"])
            year = int(match["year"]) if match["year"] else _nearest_year(month, day, now)
            rng = _day(year, month, day)
            add(match, rng and TimeMention(match[0], rng, "day"))
    for match in _MONTH_YEAR.finditer(text):
        if not free(match):
            continue
        name = match["month"]
        # Month names double as words ("may", "march"): without a year, demand a capital,
        # and for those two a preposition as well ("in May").
        if not match["year"] and (
            name[0].islower()
            or (name.lower() in ("may", "march") and match[0].lower() == name.lower())
        ):
            continue
        month = _MONTHS[name.lower()[:3]]
        year = int(match["year"]) if match["year"] else _nearest_year(month, 1, now)
        add(match, TimeMention(match[0], _month(year, month), "month"))
    for match in _YEAR.finditer(text):
        if free(match):
            add(match, TimeMention(match[0], _year(int(match["year"])), "year"))
    for match in _AGO.finditer(text):
        n = _NUMBER_WORDS.get(match["n"].lower()) or int(match["n"])
        unit = match["unit"].lower()
        if unit in ("day", "week"):
            day = now - timedelta(days=n * (7 if unit == "week" else 1))
            span = 1 if unit == "day" else 7
            start = day.replace(hour=0, minute=0, second=0, microsecond=0)
            rng = TimeRange(start=start - timedelta(days=span - 1), end=start + timedelta(days=1))
            add(match, TimeMention(match[0], rng, unit))
        elif unit == "month":
            add(match, TimeMention(match[0], _month(*_shift_months(now, -n)), "month"))
        else:
            add(match, TimeMention(match[0], _year(now.year - n), "year"))
    for match in _RELATIVE.finditer(text):
        if free(match):
            add(match, _relative(match["word"], match["which"], match["unit"], now))
    return mentions


def time_tags(mention: TimeMention) -> list[str]:
    """Canonical, human-readable tags for a mention: date:, week:, month:, year:."""
    start = mention.range.start
    assert start is not None
    if mention.granularity == "day":
        iso = start.isocalendar()
        return [
            f"date:{start:%Y-%m-%d}",
            f"week:{iso.year}-W{iso.week:02d}",
            f"month:{start:%Y-%m}",
            f"year:{start:%Y}",
        ]
    if mention.granularity == "week":
        iso = start.isocalendar()
        return [f"week:{iso.year}-W{iso.week:02d}", f"month:{start:%Y-%m}", f"year:{start:%Y}"]
    if mention.granularity == "month":
        return [f"month:{start:%Y-%m}", f"year:{start:%Y}"]
    return [f"year:{start:%Y}"]


def query_time_range(text: str, now: datetime) -> TimeRange | None:
    """The span a query asks about (the union of its time phrases), or None if it names none."""
    return span_of(find_time_mentions(text, now))


def span_of(mentions: list[TimeMention]) -> TimeRange | None:
    """The union of the mentions' ranges, or None when there are none."""
    if not mentions:
        return None
    starts = [m.range.start for m in mentions if m.range.start]
    ends = [m.range.end for m in mentions if m.range.end]
    return TimeRange(start=min(starts), end=max(ends))
