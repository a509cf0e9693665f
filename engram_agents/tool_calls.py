"""Prompted tool calling for local models without a native tool-call API.

Framework-free, shared by the LangChain and LlamaIndex integrations: render a system prompt that
lists JSON-schema tools and asks for `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`
(the Hermes/Qwen format SmolLM2 was tuned on), and parse replies back into plain records. Small
models drift from the format, so the parser also takes bare or fenced JSON, lists of calls,
`tool`/`args`/`parameters` spellings, Python-style dicts and JSON cut off by the token limit.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engram_agents.errors import InvalidInputError
from engram_agents.memory_context import add_to_system_prompt

OPEN, CLOSE = "<tool_call>", "</tool_call>"
NAME_KEYS = ("name", "tool", "tool_name", "function")
ARG_KEYS = ("arguments", "args", "parameters", "input")
REQUIRED = ("any", "required")  # tool_choice values that force some tool call
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


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model sees it: name, description, JSON schema of its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})

    @classmethod
    def coerce(cls, spec: ToolSpec | Mapping[str, Any]) -> ToolSpec:
        """Accepts a ToolSpec, OpenAI's {"type": "function", "function": {...}}, a plain
        {"name", "description", "parameters"} dict, or a JSON schema with a "title"."""
        if isinstance(spec, ToolSpec):
            return spec
        if not isinstance(spec, Mapping):
            raise InvalidInputError(f"a tool spec must be a dict, got {type(spec).__name__}")
        if isinstance(spec.get("function"), Mapping):
            spec = spec["function"]
        name = spec.get("name") or spec.get("title")
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(f"a tool spec needs a non-empty 'name': {dict(spec)!r}")
        params = spec.get("parameters")
        if params is None and "properties" in spec:  # a bare JSON schema
            params = {k: v for k, v in spec.items() if k not in ("title", "description")}
        return cls(name, spec.get("description") or "", dict(params or {"type": "object"}))

    def declared(self) -> set[str] | None:
        """The argument names the schema allows; None when it allows any."""
        props = self.parameters.get("properties")
        if props is None or self.parameters.get("additionalProperties", False) is not False:
            return None
        return set(props)


Tools = Iterable[ToolSpec | Mapping[str, Any]]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class InvalidToolCall:
    """Something that looked like a tool call but could not be used, and why."""

    id: str
    name: str | None
    arguments: str
    error: str


@dataclass(frozen=True)
class ParsedReply:
    content: str  # the reply with the tool calls taken out
    tool_calls: list[ToolCall]
    invalid_tool_calls: list[InvalidToolCall]


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def tool_prompt(tools: Tools, tool_choice: Any = None) -> str:
    """The system-prompt text that lists the tools, each with an example call.

    tool_choice: None/"auto" (the model decides), "any"/"required"/True (it must call one) or
    a tool name (it must call that one). Small models copy what they see, so each tool is shown
    as the exact call to write, with `<type>` placeholders for argument values.
    """
    specs = [ToolSpec.coerce(t) for t in tools]
    if not specs:
        raise InvalidInputError("tool_prompt needs at least one tool")
    forced = forced_tool(tool_choice, specs)
    listing = "\n".join(
        f"Tool {s.name}: {s.description or s.name}\n{OPEN}{_example_call(s)}{CLOSE}" for s in specs
    )
    if forced is None:
        rule = "If a tool helps, reply with only its call; otherwise answer normally."
    elif forced is True:
        rule = "Reply with only the call of one of these tools."
    else:
        rule = f"Reply with only the call of the tool {forced}."
    return f"You can call tools by writing a tool call exactly like the example.\n{listing}\n{rule}"


def with_tool_prompt(
    messages: list[dict[str, str]], tools: Tools, tool_choice: Any = None
) -> list[dict[str, str]]:
    """The {role, content} messages with the tools listed in the system prompt (merged into a
    leading system message, else one is put first); unchanged when there are no tools."""
    if not tools:
        return messages
    prompt = tool_prompt(tools, tool_choice)
    if messages and messages[0]["role"] == "system":
        content = messages[0]["content"]
        if isinstance(content, list):  # parts (recalled memories): the tools go after them
            content = [*content, f"\n\n{prompt}"]
        else:
            content = add_to_system_prompt(content, prompt)
        return [{"role": "system", "content": content}, *messages[1:]]
    return [{"role": "system", "content": prompt}, *messages]


def _example_call(spec: ToolSpec) -> str:
    props = spec.parameters.get("properties") or {}
    args = ", ".join(f"{json.dumps(k)}: <{_placeholder(v)}>" for k, v in props.items())
    return f'{{"name": {json.dumps(spec.name)}, "arguments": {{{args}}}}}'


def _placeholder(schema: Any) -> str:
    text = _type_name(schema)
    description = schema.get("description") if isinstance(schema, Mapping) else None
    return f"{text}, {description}" if description else text


def _type_name(schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return "value"
    if "enum" in schema:
        return " or ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = " or ".join(str(k) for k in kind)
    if kind is None and "anyOf" in schema:
        kind = " or ".join(_type_name(s) for s in schema["anyOf"])
    return str(kind or "value")


def forced_tool(tool_choice: Any, tools: Tools) -> str | bool | None:
    """The tool the reply must call (its name), True for any tool, None when not forced."""
    specs = [ToolSpec.coerce(t) for t in tools]
    if tool_choice in (None, False, "auto", "none"):
        return None
    if tool_choice is True or tool_choice in REQUIRED:
        return specs[0].name if len(specs) == 1 else True
    names = [s.name for s in specs]
    if tool_choice not in names:
        raise InvalidInputError(f"tool_choice {tool_choice!r} names no bound tool ({names})")
    return tool_choice


def reply_prefix(tool_choice: Any, tools: Tools) -> str:
    """Text to put at the start of the model's reply so a forced call cannot be skipped.

    The model then only fills in what is left: the tool name (when any tool will do), or the
    arguments after the first one's key (when the tool is known). A tool without parameters is
    called outright. Empty when nothing is forced.
    """
    specs = {s.name: s for s in (ToolSpec.coerce(t) for t in tools)}
    forced = forced_tool(tool_choice, specs.values())
    if forced is None:
        return ""
    if forced is True:
        return f'{OPEN}\n{{"name": "'
    props = list(specs[forced].parameters.get("properties") or {})
    if not props:
        return f"{OPEN}\n{json.dumps({'name': forced, 'arguments': {}})}\n{CLOSE}"
    first = specs[forced].parameters["properties"][props[0]]
    quote = '"' if isinstance(first, Mapping) and first.get("type") == "string" else ""
    return f'{OPEN}\n{{"name": {json.dumps(forced)}, "arguments": {{{json.dumps(props[0])}: {quote}'


def stop_strings(tool_choice: Any, tools: Tools) -> tuple[str, ...]:
    """Where to stop generating: after the closing tag, and for a forced call (exactly one,
    so nothing useful follows) as soon as the call's JSON closes with "}}". The parser closes
    whatever brackets the cut leaves open."""
    return (CLOSE, "}}") if forced_tool(tool_choice, tools) is not None else (CLOSE,)


@dataclass(frozen=True)
class ReplyPlan:
    """How to generate one reply with tools offered: the prompt, the text the reply is forced to
    start with, and where to stop (after the first call: small models ramble past it)."""

    messages: list[dict[str, str]]
    tools: list[ToolSpec]  # offered, so the reply is parsed for their calls
    prefix: str
    stop: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """The forced start is already the whole call (a tool without parameters)."""
        return self.prefix.endswith(CLOSE)


def plan_reply(
    messages: list[dict[str, str]],
    tools: Tools,
    tool_choice: Any = None,
    stop: str | Sequence[str] | None = None,
) -> ReplyPlan:
    """The one place both integrations turn (messages, tools, tool_choice, stop) into a plan."""
    stop = (stop,) if isinstance(stop, str) else tuple(stop or ())
    specs = [] if tool_choice == "none" else [ToolSpec.coerce(t) for t in tools]
    if not specs:
        return ReplyPlan(list(messages), [], "", stop)
    return ReplyPlan(
        with_tool_prompt(messages, specs, tool_choice),
        specs,
        reply_prefix(tool_choice, specs),
        stop + stop_strings(tool_choice, specs),
    )


def render_tool_call(name: str, arguments: Mapping[str, Any]) -> str:
    """A past tool call as the model should have written it (for the chat history)."""
    return f"{OPEN}\n{json.dumps({'name': name, 'arguments': dict(arguments)})}\n{CLOSE}"


def render_tool_result(content: str, name: str | None = None) -> str:
    """A tool's result as the content of a `tool` message in the chat history."""
    head = f"<tool_response name={json.dumps(name)}>" if name else "<tool_response>"
    return f"{head}\n{content}\n</tool_response>"


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
