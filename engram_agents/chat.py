"""The core's public surface for framework integrations (LangChain, LlamaIndex, tools, ...).

An integration imports the objects users hold from the package root (`EngramLM`,
`EngramMemory`, `EngramConfig`, `TrainConfig`, the errors) and everything else from here, never
from deeper modules, so the core can move its internals without breaking any integration
(tests/integrations/test_public_surface.py checks it). What lives here:

- message parts with the recalled/unkeyed marks (`MessagePart`, `RECALLED`, `UNKEYED`), the one
  place a framework's text block says "recalled memory, not what the user said";
- `stream_in_thread`: the sync-to-async streaming bridge that stops decoding when the caller stops;
- `load_lm`: the default-model loader, one loaded model per (model, config, storage) in a process,
  and `LazyLM`, a chat model's own model, given or loaded on first use;
- `ChatTurn`: one chat call to an EngramLM (sampling arguments checked against `SAMPLING_ARGS`,
  tools planned, the reply decoded, its tool calls parsed, its tokens counted), the flow every
  framework chat model runs between translating its messages in and its reply out;
- the prompted tool-calling helpers, the memory-block formatting and the public records,
  re-exported from where they are defined;
- the core's input checks (`check_id`, `check_k` with `MAX_K`, the pydantic field types
  `RecallK` and `CheckedId` for settings, `check_text`, `check_metadata`,
  `check_flag`, `describe`), so an integration refuses bad input with the core's rules and messages.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from engram_agents.chat_turn import SAMPLING_ARGS, ChatTurn, sampling_params
from engram_agents.consolidation import WeightSync, consolidate_into_model
from engram_agents.ids import check_id
from engram_agents.lm import EngramLM
from engram_agents.memory_context import (
    HEADER,
    MAX_CHARS,
    add_to_question,
    add_to_system_prompt,
    before_block,
    before_question,
    format_memories,
)
from engram_agents.memory_tools import ARGS as MEMORY_TOOL_ARGS
from engram_agents.memory_tools import DESCRIPTIONS as MEMORY_TOOL_DESCRIPTIONS
from engram_agents.memory_tools import MemoryTools
from engram_agents.model.config import EngramConfig
from engram_agents.model.loading import DEFAULT_MODEL_NAME
from engram_agents.store.config import StoreConfig
from engram_agents.store.records import ConsolidationReport, Engram, RecallHit
from engram_agents.store.redact import redact
from engram_agents.store.validation import (
    MAX_K,
    CheckedId,
    RecallK,
    check_flag,
    check_k,
    check_metadata,
    check_text,
    describe,
)
from engram_agents.streaming import stream_in_thread
from engram_agents.tool_call_parser import parse_tool_calls
from engram_agents.tool_calls import (
    ParsedReply,
    ReplyPlan,
    ToolSpec,
    plan_reply,
    render_tool_call,
    render_tool_result,
    reply_prefix,
)

# -- message parts ------------------------------------------------------------------------
KEYED_MARK = "engram_keyed"
RECALLED_MARK = "engram_recalled"
UNKEYED: dict[str, Any] = {KEYED_MARK: False}
"""Marks text the model reads but Engram does not key its tables on (not what the user said)."""
RECALLED: dict[str, Any] = {RECALLED_MARK: True}
"""Marks recalled memories: unkeyed too, and what `memory_weight` decodes toward."""
MARKS_ATTRIBUTE = "engram_marks"
"""Where a text block class without free metadata (LlamaIndex's TextBlock) carries its marks."""


class MessagePart(BaseModel):
    """A piece of a message's text and how Engram reads it: `keyed` text addresses the memory
    tables (what the user said); `recalled` text is memory retrieved into the prompt, read but
    never keyed (memorized statements quoted there would fire the tables a second time), so a
    recalled part is always unkeyed."""

    model_config = ConfigDict(frozen=True)

    text: str
    keyed: bool = True
    recalled: bool = False

    @model_validator(mode="after")
    def _recalled_is_unkeyed(self) -> MessagePart:
        if self.recalled and self.keyed:
            object.__setattr__(self, "keyed", False)
        return self

    @classmethod
    def of_block(cls, text: str, block: Any) -> MessagePart:
        """The part for a framework's text block, as the marks it carries say: a dict block's
        "extras" (LangChain content blocks), else the block's `engram_marks` attribute."""
        if isinstance(block, Mapping):
            marks = block.get("extras") or {}
        else:
            marks = getattr(block, MARKS_ATTRIBUTE, None) or {}
        return cls(
            text=text,
            keyed=marks.get(KEYED_MARK, True) is not False,
            recalled=marks.get(RECALLED_MARK, False) is True,
        )

    @property
    def marked(self) -> bool:
        return self.recalled or not self.keyed

    def as_content(self) -> dict[str, Any]:
        """The part as EngramLM takes it in a message's content list."""
        return {"text": self.text, "keyed": self.keyed, "recalled": self.recalled}


def message_content(
    parts: Sequence[MessagePart], text: str | None = None
) -> str | list[dict[str, Any]]:
    """A message's content as EngramLM takes it: the parts with their marks when any part is
    marked, else plain text (`text` as the framework reads the message, or the parts joined)."""
    if any(p.marked for p in parts):
        return [p.as_content() for p in parts]
    return "".join(p.text for p in parts) if text is None else text


# -- the model ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _cached_lm(model: str | None, config_json: str | None, storage_dir: str | None) -> EngramLM:
    config = EngramConfig.model_validate_json(config_json) if config_json else None
    if model is None:
        return EngramLM.from_default(config=config, storage_dir=storage_dir)
    return EngramLM.from_pretrained(model, config=config, storage_dir=storage_dir)


def load_lm(
    model: str | os.PathLike | None = None,
    config: EngramConfig | None = None,
    storage_dir: str | os.PathLike | None = None,
) -> EngramLM:
    """The EngramLM for a local model folder (None: the embedded default), loaded once per
    (model, config, storage) in a process: loading costs seconds and hundreds of MB, and every
    chat model pointing at the same folder can share it (EngramLM serializes its users)."""
    return _cached_lm(
        None if model is None else str(model),
        config.model_dump_json() if config else None,
        None if storage_dir is None else str(storage_dir),
    )


class LazyLM:
    """A framework chat model's EngramLM: the one it was given (`lm=`), else `load_lm`'s for
    its model, loaded on first use and then kept (the process-wide cache may evict it)."""

    def __init__(self) -> None:
        self._loaded: EngramLM | None = None

    def get(
        self,
        given: EngramLM | None,
        model: str | os.PathLike | None,
        config: EngramConfig | None,
        storage_dir: str | os.PathLike | None,
    ) -> EngramLM:
        if given is not None:
            return given
        if self._loaded is None:
            self._loaded = load_lm(model, config, storage_dir)
        return self._loaded


__all__ = [
    "DEFAULT_MODEL_NAME",
    "HEADER",
    "KEYED_MARK",
    "MARKS_ATTRIBUTE",
    "MAX_CHARS",
    "MAX_K",
    "MEMORY_TOOL_ARGS",
    "MEMORY_TOOL_DESCRIPTIONS",
    "RECALLED",
    "RECALLED_MARK",
    "SAMPLING_ARGS",
    "UNKEYED",
    "ChatTurn",
    "CheckedId",
    "ConsolidationReport",
    "Engram",
    "LazyLM",
    "MemoryTools",
    "MessagePart",
    "ParsedReply",
    "RecallHit",
    "RecallK",
    "ReplyPlan",
    "StoreConfig",
    "ToolSpec",
    "WeightSync",
    "add_to_question",
    "add_to_system_prompt",
    "before_block",
    "before_question",
    "check_flag",
    "check_id",
    "check_k",
    "check_metadata",
    "check_text",
    "consolidate_into_model",
    "describe",
    "format_memories",
    "load_lm",
    "message_content",
    "parse_tool_calls",
    "plan_reply",
    "redact",
    "render_tool_call",
    "render_tool_result",
    "reply_prefix",
    "sampling_params",
    "stream_in_thread",
]
