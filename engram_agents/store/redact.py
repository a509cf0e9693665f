"""Data minimization: secrets and personal identifiers are replaced before anything is stored."""

from __future__ import annotations

import re

# Vendor API key formats, each replaced in turn (OpenAI/Stripe-style, AWS, GitHub, Slack, Google).
_API_KEY_FORMATS = (
    r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}\b",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
    r"\bxox[abpors]-[A-Za-z0-9\-]{10,}\b",
    r"\bAIza[0-9A-Za-z_\-]{35}\b",
)
# Order matters: specific secret formats first, so a generic pattern does not eat them.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "PRIVATE_KEY",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    ),
    *(("API_KEY", re.compile(source)) for source in _API_KEY_FORMATS),
    ("TOKEN", re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")),
    (
        "SECRET",
        re.compile(
            r"(?i)\b(?:password|passwd|pwd|secret|api[_ -]?key|access[_ -]?token|token)"
            r"(\s*(?:is|[:=])\s*)\S+"
        ),
    ),
    ("EMAIL", re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b")),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")),
    ("SSN", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    ("CARD", re.compile(r"\b\d(?:[ -]?\d){12,18}\b")),
    (
        "PHONE",
        re.compile(
            r"(?<![\w-])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{2,4}\)[ .\-]?)?\d{2,4}(?:[ .\-]\d{2,4}){1,3}\b"
        ),
    ),
]


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _phone_like(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    year_range = re.fullmatch(r"(?:19|20)\d\d\D+(?:19|20)\d\d", candidate.strip())
    return 7 <= len(digits) <= 15 and (candidate.startswith(("+", "(")) or not year_range)


def redact(text: str) -> tuple[str, list[str]]:
    """Return the text with identifiers replaced by `[KIND]` and the kinds that were found."""
    found: list[str] = []

    for kind, pattern in _PATTERNS:

        def _sub(match: re.Match[str], kind: str = kind) -> str:
            if kind == "CARD":
                digits = re.sub(r"\D", "", match.group(0))
                if not _luhn_ok(digits):
                    return match.group(0)
            if kind == "PHONE" and not _phone_like(match.group(0)):
                return match.group(0)
            if kind == "SECRET":
                found.append(kind)
                head = match.group(0)[: match.start(1) - match.start(0)] + match.group(1)
                return f"{head}[{kind}]"
            found.append(kind)
            return f"[{kind}]"

        text = pattern.sub(_sub, text)
    return text, sorted(set(found))
