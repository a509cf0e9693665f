"""RecalledTextBlock: the recalled-memory text put into the prompt."""

from __future__ import annotations

from llama_index.core.base.llms.types import TextBlock


class RecalledTextBlock(TextBlock):
    """Text recalled from memory, not said by the user. Any LLM reads it as a text block; the
    Engram LLM reads it without keying its tables on it (memorized statements quoted in the
    user's turn would fire them a second time) and decodes toward it (`memory_weight`)."""
