"""Prompted tool calling for local models without a native tool-call API.

Framework-free, shared by the LangChain and LlamaIndex integrations: render a system prompt that
lists JSON-schema tools and asks for `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`
(the Hermes/Qwen format SmolLM2 was tuned on), force a required call by starting the reply with
it, and the plain records replies are parsed into (`engram_agents.tool_call_parser` reads them).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engram_agents.errors import InvalidInputError
from engram_agents.memory_context import add_to_system_prompt

OPEN, CLOSE = "<tool_call>", "</tool_call>"
REQUIRED = ("any", "required")  # tool_choice values that force some tool call


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
