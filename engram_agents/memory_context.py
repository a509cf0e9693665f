"""Recalled memories as system-prompt text.

Framework-free, shared by the LangChain and LlamaIndex integrations so an agent sees the same
memory block whichever framework it runs in. Each line carries the date the memory is about, so
the model can answer "when" questions and tell old from new. The most relevant memory comes
last, nearest the question: small models read what is closest to the question best
(benchmarks/memory_placement.py measures it; the figures are in benchmarks/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from engram_agents.errors import InvalidInputError
from engram_agents.store.records import RecallHit

HEADER = "Relevant memories about the user from earlier conversations (most relevant last):"
MAX_CHARS = 2000


def format_memories(
    hits: Sequence[RecallHit], *, header: str = HEADER, max_chars: int = MAX_CHARS
) -> str:
    """A block of one `- [YYYY-MM-DD] text` line per hit, the hits given best first and listed
    best last; "" for no hits.

    The least relevant lines that would push the block past `max_chars` are left out (small
    models have short context windows), but the best memory is always kept, cut if it must be.
    """
    if max_chars < 1:
        raise InvalidInputError(f"max_chars must be >= 1, got {max_chars}")
    lines: list[str] = []
    size = len(header)
    for hit in hits:
        text = " ".join(hit.engram.text.split())
        line = f"- [{hit.engram.when.date().isoformat()}] {text}"
        if size + 1 + len(line) > max_chars:
            if lines:
                break
            line = line[: max(0, max_chars - size - 2)] + "…"
        lines.append(line)
        size += 1 + len(line)
    return "\n".join([header, *reversed(lines)]) if lines else ""


def add_to_system_prompt(system: str | None, block: str) -> str:
    """The system prompt with the memory block appended (the block alone if there was none)."""
    if not block:
        return system or ""
    return before_block(system) + block


def before_block(system: str | None) -> str:
    """The system prompt as the text a block is appended to ("" for none): callers that keep
    the two apart (a text block of its own) still read the same."""
    return f"{system.rstrip()}\n\n" if system and system.strip() else ""


def before_question(block: str) -> str:
    """The block as the text that goes just before the question ("" for no block): callers
    that keep the two apart (an unkeyed part, a content block of its own) still read the same."""
    return f"{block}\n\n" if block else ""


def add_to_question(question: str, block: str) -> str:
    """The user's message with the memory block put before it (the message alone if none)."""
    return before_question(block) + question
