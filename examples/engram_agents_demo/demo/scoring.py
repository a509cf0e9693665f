"""Answer scoring: normalized whole-word match of gold and stale aliases."""

import re

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def mentions(reply: str, alias: str) -> bool:
    """Whether the alias occurs in the reply as a whole-word sequence, ignoring case and
    punctuation ("3 pm" matches "at 3 PM.", not "13 pm")."""
    target = words(alias)
    if not target:
        return False
    said = words(reply)
    n = len(target)
    return any(said[i : i + n] == target for i in range(len(said) - n + 1))


def judge(reply: str, answers: list[str], stale: list[str]) -> tuple[bool, bool]:
    """(correct, stale): a reply that also repeats an overridden value is not correct."""
    is_stale = any(mentions(reply, a) for a in stale)
    return any(mentions(reply, a) for a in answers) and not is_stale, is_stale


def reached(turn: str, prompt: str, share: float = 0.8) -> bool:
    """Whether a past turn reached the model: most of its words are in the prompt (memories
    may be stored redacted or reformatted, so exact containment is too strict)."""
    needed = set(words(turn))
    return bool(needed) and len(needed & set(words(prompt))) >= share * len(needed)
