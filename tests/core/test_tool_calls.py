"""Prompted tool calls: the prompt, forced prefixes, and parsing what small models really write."""

import json

import pytest

from engram_agents.errors import InvalidInputError
from engram_agents.tool_call_parser import parse_tool_calls
from engram_agents.tool_calls import (
    ToolSpec,
    forced_tool,
    plan_reply,
    render_tool_call,
    render_tool_result,
    reply_prefix,
    stop_strings,
    tool_prompt,
    with_tool_prompt,
)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
ADD = {"name": "add", "description": "Add two integers", "parameters": {"type": "object"}}
TOOLS = [WEATHER, ADD]


def test_spec_shapes():
    assert ToolSpec.coerce(WEATHER).name == "get_weather"
    assert ToolSpec.coerce(ADD).description == "Add two integers"
    schema = {"title": "Person", "type": "object", "properties": {"age": {"type": "integer"}}}
    spec = ToolSpec.coerce(schema)
    assert spec.name == "Person" and spec.parameters["properties"] == schema["properties"]
    with pytest.raises(InvalidInputError, match="name"):
        ToolSpec.coerce({"description": "nameless"})
    with pytest.raises(InvalidInputError, match="dict"):
        ToolSpec.coerce("get_weather")


def test_prompt_shows_each_tool_as_a_call():
    text = tool_prompt(TOOLS)
    assert "Tool get_weather: Current weather in a city\n" in text
    assert '<tool_call>{"name": "get_weather", "arguments": {"city": <string>}}</tool_call>' in text
    assert '{"name": "add", "arguments": {}}' in text and "otherwise answer normally" in text
    assert "one of these tools" in tool_prompt(TOOLS, "any")
    assert "the tool add." in tool_prompt(TOOLS, "add")
    schema = {
        "name": "pick",
        "parameters": {
            "properties": {
                "color": {"enum": ["red", "blue"]},
                "n": {"type": ["integer", "null"], "description": "how many"},
                "x": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            }
        },
    }
    assert '"color": <"red" or "blue">, "n": <integer or null, how many>' in tool_prompt([schema])
    assert '"x": <string or null>' in tool_prompt([schema])
    with pytest.raises(InvalidInputError, match="at least one tool"):
        tool_prompt([])


def test_forcing():
    assert forced_tool(None, TOOLS) is None and forced_tool("auto", TOOLS) is None
    assert forced_tool("any", TOOLS) is True and forced_tool("required", [ADD]) == "add"
    assert reply_prefix("auto", TOOLS) == ""
    assert reply_prefix("any", TOOLS) == '<tool_call>\n{"name": "'
    # the first argument's key is written for the model, with the quote of a string value
    assert reply_prefix("get_weather", TOOLS).endswith('"arguments": {"city": "')
    # a tool without parameters is called outright
    assert reply_prefix("add", TOOLS) == (
        '<tool_call>\n{"name": "add", "arguments": {}}\n</tool_call>'
    )
    assert stop_strings(None, TOOLS) == ("</tool_call>",)
    assert stop_strings("any", TOOLS) == ("</tool_call>", "}}")
    with pytest.raises(InvalidInputError, match="names no bound tool"):
        reply_prefix("nope", TOOLS)


def test_forced_prefix_plus_completion_parses():
    reply = reply_prefix("get_weather", TOOLS) + 'Paris"}}\n</tool_call>'
    parsed = parse_tool_calls(reply, TOOLS)
    calls = [(c.name, c.arguments) for c in parsed.tool_calls]
    assert calls == [("get_weather", {"city": "Paris"})]
    assert parsed.content == "" and parsed.invalid_tool_calls == []


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>',
        'Sure.\n<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}',  # no closing tag
        '```json\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n```',
        '{"tool": "add", "args": {"a": 1, "b": 2}}',
        '{"name": "add", "parameters": "{\\"a\\": 1, \\"b\\": 2}"}',  # arguments as a string
        "<tool_call>{'name': 'add', 'arguments': {'a': 1, 'b': 2}}</tool_call>",  # Python dict
        '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2',  # cut off by the limit
        '{"function": {"name": "add", "arguments": {"a": 1, "b": 2}}}',
    ],
)
def test_parse_variants(text):
    parsed = parse_tool_calls(text, TOOLS)
    assert [(c.name, c.arguments) for c in parsed.tool_calls] == [("add", {"a": 1, "b": 2})]
    assert parsed.invalid_tool_calls == []
    assert parsed.tool_calls[0].id.startswith("call_")


def test_parse_keeps_content_and_several_calls():
    text = (
        "Let me check.\n"
        + render_tool_call("get_weather", {"city": "Oslo"})
        + "\n"
        + render_tool_call("add", {"a": 2, "b": 3})
    )
    parsed = parse_tool_calls(text, TOOLS)
    assert parsed.content == "Let me check."
    assert [c.name for c in parsed.tool_calls] == ["get_weather", "add"]
    assert len({c.id for c in parsed.tool_calls}) == 2
    listed = parse_tool_calls(
        json.dumps([{"name": "add", "arguments": {}}, {"name": "add", "arguments": {"a": 1}}])
    )
    assert [c.arguments for c in listed.tool_calls] == [{}, {"a": 1}]


def test_plain_text_and_json_without_a_name_stay_content():
    for text in ["Paris is the capital of France.", 'The data is {"a": 1} and [1, 2].', "{ nope"]:
        parsed = parse_tool_calls(text, TOOLS)
        assert parsed.tool_calls == [] and parsed.invalid_tool_calls == []
        assert parsed.content == text


def test_invalid_calls_are_reported_not_dropped():
    parsed = parse_tool_calls('<tool_call>{"name": "fly", "arguments": {}}</tool_call>', TOOLS)
    assert parsed.tool_calls == []
    assert parsed.invalid_tool_calls[0].name == "fly"
    assert "unknown tool" in parsed.invalid_tool_calls[0].error
    bad_args = parse_tool_calls('<tool_call>{"name": "add", "arguments": 5}</tool_call>', TOOLS)
    assert "not a JSON object" in bad_args.invalid_tool_calls[0].error
    garbage = parse_tool_calls("<tool_call>call add please</tool_call>", TOOLS)
    assert garbage.invalid_tool_calls[0].arguments == "call add please"
    assert garbage.invalid_tool_calls[0].name is None
    broken = parse_tool_calls('<tool_call>{"name": "add", "arguments": {"a": 1 2}}', TOOLS)
    assert broken.invalid_tool_calls[0].name == "add"  # the tool it meant is still named
    # without a tool list any name is accepted
    assert parse_tool_calls('{"name": "fly", "arguments": {}}').tool_calls[0].name == "fly"


def test_repeated_keys_keep_the_first_value():
    text = '{"name": "add", "arguments": {"a": 1, "b": 2, "a": 9}}'
    assert parse_tool_calls(text, TOOLS).tool_calls[0].arguments == {"a": 1, "b": 2}
    # cut off inside a repeated key's value (the token limit): still the first value
    cut = '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2, "a": "'
    assert parse_tool_calls(cut, TOOLS).tool_calls[0].arguments == {"a": 1, "b": 2}


def test_undeclared_arguments_are_dropped():
    text = '{"name": "get_weather", "arguments": {"city": "Oslo", "answer": "sunny"}}'
    assert parse_tool_calls(text, TOOLS).tool_calls[0].arguments == {"city": "Oslo"}
    open_schema = {**WEATHER["function"], "parameters": {**WEATHER["function"]["parameters"]}}
    open_schema["parameters"]["additionalProperties"] = True
    kept = parse_tool_calls(text, [open_schema]).tool_calls[0].arguments
    assert kept == {"city": "Oslo", "answer": "sunny"}
    # ADD declares no properties: anything goes
    assert parse_tool_calls('{"name": "add", "arguments": {"z": 1}}', TOOLS).tool_calls[
        0
    ].arguments == {"z": 1}


def test_call_cut_at_the_forced_stop_string_is_closed():
    # generation stops before "}}" for a forced call; the parser closes the JSON
    cut = reply_prefix("get_weather", TOOLS) + "Oslo"
    assert parse_tool_calls(cut, TOOLS).tool_calls[0].arguments == {"city": "Oslo"}


@pytest.mark.parametrize("cut", ['"b":', '"b"', '"b', ' "', ""])
def test_dangling_key_is_dropped_when_repairing(cut):
    parsed = parse_tool_calls('<tool_call>{"name": "add", "arguments": {"a": "x, y", ' + cut, TOOLS)
    assert parsed.tool_calls[0].arguments == {"a": "x, y"}
    in_list = parse_tool_calls('{"name": "add", "arguments": {"a": ["x", "y', TOOLS)
    assert in_list.tool_calls[0].arguments == {"a": ["x", "y"]}  # a list item is kept


def test_tool_result_rendering():
    assert render_tool_result("12 C", "get_weather") == (
        '<tool_response name="get_weather">\n12 C\n</tool_response>'
    )
    assert render_tool_result("ok").startswith("<tool_response>\n")


def test_with_tool_prompt_merges_into_a_leading_system_message_or_puts_one_first():
    chat = [{"role": "user", "content": "Weather in Oslo?"}]
    assert with_tool_prompt(chat, []) == chat
    listed = tool_prompt([WEATHER], "required")
    assert with_tool_prompt(chat, [WEATHER], "required") == [
        {"role": "system", "content": listed},
        *chat,
    ]
    system = [{"role": "system", "content": "Be brief."}, *chat]
    assert with_tool_prompt(system, [WEATHER]) == [
        {"role": "system", "content": f"Be brief.\n\n{tool_prompt([WEATHER])}"},
        *chat,
    ]
    memories = {"text": "Memories: ...", "recalled": True}  # parts: the tools come after them
    parts = [{"role": "system", "content": ["Be brief.\n\n", memories]}, *chat]
    assert with_tool_prompt(parts, [WEATHER]) == [
        {"role": "system", "content": ["Be brief.\n\n", memories, f"\n\n{tool_prompt([WEATHER])}"]},
        *chat,
    ]


def test_plan_reply_offers_forces_and_stops_like_both_integrations_need():
    chat = [{"role": "user", "content": "Weather in Oslo?"}]
    plain = plan_reply(chat, [], stop="END")
    assert (plain.messages, plain.tools, plain.prefix, plain.stop) == (chat, [], "", ("END",))
    assert plan_reply(chat, TOOLS, "none", ["END"]) == plain
    auto = plan_reply(chat, TOOLS, None, ["END"])
    assert auto.messages == with_tool_prompt(chat, TOOLS)
    assert [t.name for t in auto.tools] == ["get_weather", "add"]
    assert auto.prefix == "" and auto.stop == ("END", "</tool_call>") and not auto.complete
    forced = plan_reply(chat, TOOLS, "get_weather")
    assert forced.prefix == reply_prefix("get_weather", TOOLS) and forced.stop[-1] == "}}"
    assert plan_reply(chat, TOOLS, "add").complete  # no parameters: the prefix is the call
