"""Parsing a local model's reply into tool calls, leniently: small models drift from the
`<tool_call>` format the prompt asks for (`engram_agents.tool_calls`), so bare or fenced JSON,
lists of calls, `tool`/`args`/`parameters` spellings, Python-style dicts and JSON cut off by the
token limit are read too.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from typing import Any

from engram_agents.tool_calls import (
    CLOSE,
    OPEN,
    InvalidToolCall,
    ParsedReply,
    ToolCall,
    Tools,
    ToolSpec,
    new_call_id,
)

NAME_KEYS = ("name", "tool", "tool_name", "function")
ARG_KEYS = ("arguments", "args", "parameters", "input")
_BLOCK = re.compile(re.escape(OPEN) + r"(.*?)(?:" + re.escape(CLOSE) + r"|$)", re.S)


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Small models repeat keys as they ramble; the first value is the one they meant."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


_JSON = json.JSONDecoder(object_pairs_hook=_first_wins)
_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')  # the tool a broken call meant
_DANGLING_KEY = re.compile(r'([{,])\s*"(?:[^"\\]|\\.)*"\s*:?\s*$')
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)(?:```|$)", re.S)


def parse_tool_calls(text: str, tools: Tools | None = None) -> ParsedReply:
    """Split a reply into its plain content and tool calls.

    With `tools`, a call to a name not among them is reported as invalid rather than dropped,
    and arguments a tool's schema does not declare are left out.
    Text without a recognizable call is returned as content, untouched.
    """
    specs = None if tools is None else {s.name: s for s in map(ToolSpec.coerce, tools)}
    blocks = list(_BLOCK.finditer(text))
    if blocks:
        spans = [(m.start(), m.end()) for m in blocks]
        candidates = [_objects(m.group(1)) or [m.group(1).strip()] for m in blocks]
    else:
        spans, candidates = _bare_calls(text)
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for found in candidates:
        for obj in found:
            call = _to_call(obj, specs)
            (calls if isinstance(call, ToolCall) else invalid).append(call)
    content = text
    for start, end in reversed(spans):
        content = content[:start] + content[end:]
    return ParsedReply(content.strip(), calls, invalid)


def _bare_calls(text: str) -> tuple[list[tuple[int, int]], list[list[Any]]]:
    """Calls written without the tags: JSON (fenced or not) that has a tool name key."""
    spans, found = [], []
    pos = 0
    while (start := _next_json_start(text, pos)) is not None:
        value, end = _decode(text, start)
        if end is None:
            pos = start + 1
            continue
        objs = value if isinstance(value, list) else [value]
        if objs and all(isinstance(o, dict) and _name_of(o) for o in objs):
            fence = _FENCE.search(text, max(0, start - 12))
            if fence and fence.start() <= start and fence.end() >= end:
                spans.append(fence.span())
            else:
                spans.append((start, end))
            found.append(objs)
        pos = end
    return spans, found


def _next_json_start(text: str, pos: int) -> int | None:
    hits = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
    return min(hits) if hits else None


def _objects(chunk: str) -> list[Any]:
    chunk = chunk.strip()
    fence = _FENCE.search(chunk)
    if fence:
        chunk = fence.group(1).strip()
    start = _next_json_start(chunk, 0)
    if start is None:
        return []
    value, end = _decode(chunk, start)
    if end is None:
        return [chunk]
    return value if isinstance(value, list) else [value]


def _decode(text: str, start: int) -> tuple[Any, int | None]:
    """A JSON (or Python-literal) value starting at `start`, repaired if cut off at the end."""
    try:
        return _JSON.raw_decode(text, start)
    except json.JSONDecodeError:
        pass
    end = _scan(text, start)[0]
    piece = text[start:end] if end is not None else _close(text[start:])
    for load in (_JSON.decode, ast.literal_eval):
        try:
            return load(piece), end if end is not None else len(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return None, None


def _scan(text: str, start: int) -> tuple[int | None, list[str], str | None]:
    """Walk brackets and strings from `start`: (index past the closing bracket or None,
    brackets still open, string quote still open)."""
    stack: list[str] = []
    quote, escaped = None, False
    for i in range(start, len(text)):
        c = text[i]
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "{[":
            stack.append("}" if c == "{" else "]")
        elif c in "}]" and stack:
            stack.pop()
            if not stack:
                return i + 1, [], None
    return None, stack, quote


def _close(piece: str) -> str:
    """Close the strings and brackets a reply left open when it hit the token limit."""
    _, stack, quote = _scan(piece, 0)
    piece = piece.rstrip() + (quote or "")
    if stack and stack[-1] == "}":  # drop a key cut off before its value
        piece = _DANGLING_KEY.sub(r"\1", piece)
    return piece.rstrip().rstrip(",") + "".join(reversed(stack))


def _name_of(obj: Mapping[str, Any]) -> str | None:
    for key in NAME_KEYS:
        value = obj.get(key)
        if isinstance(value, Mapping):  # {"function": {"name": ..., "arguments": ...}}
            value = value.get("name")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _to_call(obj: Any, specs: dict[str, ToolSpec] | None) -> ToolCall | InvalidToolCall:
    raw = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, default=str)
    if not isinstance(obj, dict):
        named = _NAME.search(raw)
        return InvalidToolCall(
            new_call_id(), named and named.group(1), raw, "the tool call is not a JSON object"
        )
    name = _name_of(obj)
    if isinstance(obj.get("function"), Mapping):
        obj = obj["function"]
    if name is None:
        return InvalidToolCall(new_call_id(), None, raw, "the tool call names no tool")
    if specs is not None and name not in specs:
        return InvalidToolCall(new_call_id(), name, raw, f"unknown tool {name!r}")
    args = next((obj[k] for k in ARG_KEYS if k in obj), {})
    if isinstance(args, str):
        args = args.strip()
        value, end = _decode(args, 0) if args.startswith("{") else (None, None)
        if end is None:
            return InvalidToolCall(new_call_id(), name, raw, "arguments are not a JSON object")
        args = value
    if not isinstance(args, dict):
        return InvalidToolCall(new_call_id(), name, raw, "arguments are not a JSON object")
    declared = specs[name].declared() if specs and name in specs else None
    if declared is not None:  # small models invent extra arguments as they ramble
        args = {k: v for k, v in args.items() if k in declared}
    return ToolCall(new_call_id(), name, args)
