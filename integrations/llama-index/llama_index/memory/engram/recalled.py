"""RecalledTextBlock: the recalled-memory text put into the prompt."""

from __future__ import annotations

from typing import Any, ClassVar

from llama_index.core.base.llms.types import TextBlock

from engram_agents.chat import RECALLED


class RecalledTextBlock(TextBlock):
    """Text recalled from memory, not said by the user. Any LLM reads it as a text block; the
    Engram LLM reads the core's RECALLED marks on it (`engram_agents.chat.MessagePart`), so it
    does not key its tables on it (memorized statements quoted in the user's turn would fire them
    a second time) and decodes toward it (`memory_weight`)."""

    engram_marks: ClassVar[dict[str, Any]] = RECALLED
