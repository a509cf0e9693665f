"""The MCP server through the official SDK's client: over streamable HTTP at /mcp (scoped by
the API key's tenant) and over stdio (`engram-agents mcp`, scoped by --user)."""

from __future__ import annotations

import json
import os
import sys

import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from engram_agents.memory import EngramMemory
from engram_agents.store.encoders import HashingEncoder

TOOLS = {"remember", "recall", "list", "get", "update", "delete", "erasures"}


def over_http(url: str, key: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return Client(streamable_http_client(f"{url}/mcp", http_client=http))


async def _tool(client: Client, name: str, **arguments):
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def _tool_error(client: Client, name: str, **arguments) -> str:
    result = await client.call_tool(name, arguments)
    assert result.is_error
    return result.content[0].text


async def test_every_tool_over_http_in_the_keys_tenant(server):
    async with over_http(server.url, server.acme) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        pixel = await _tool(client, "remember", text="My dog is called Pixel", user_id="alice")
        await _tool(client, "remember", text="I play the cello", user_id="alice")
        assert pixel["scope"]["user_id"] == "alice"
        assert server.memory.get(pixel["id"], "acme:alice").text == "My dog is called Pixel"

        hits = await _tool(client, "recall", query="what is my dog called", user_id="alice")
        hits = hits["result"]
        assert hits[0]["engram"]["id"] == pixel["id"] and "kw:dog" in hits[0]["matched_tags"]
        listed = (await _tool(client, "list", user_id="alice"))["result"]
        assert len(listed) == 2
        got = await _tool(client, "get", engram_id=pixel["id"], user_id="alice")
        assert got["text"] == "My dog is called Pixel"
        fixed = await _tool(
            client, "update", engram_id=pixel["id"], text="My dog is Rex", user_id="alice"
        )
        assert fixed["text"] == "My dog is Rex"
        resource = await client.read_resource("engram://users/alice/memories")
        assert {e["text"] for e in json.loads(resource.contents[0].text)} == {
            "My dog is Rex",
            "I play the cello",
        }
        assert (await _tool(client, "delete", engram_id=pixel["id"], user_id="alice"))[
            "result"
        ] == 1
        assert len(server.memory.list("acme:alice")) == 1


async def test_http_tools_are_confined_to_the_key(server):
    async with over_http(server.url, server.acme) as acme:
        secret = await _tool(acme, "remember", text="Acme vault code 1234", user_id="alice")
    async with over_http(server.url, server.globex) as globex:
        message = await _tool_error(globex, "get", engram_id=secret["id"], user_id="alice")
        assert message.endswith(f"NotFoundError: no engram {secret['id']!r} for user 'alice'")
        assert (await _tool(globex, "list", user_id="alice"))["result"] == []
    async with over_http(server.url, server.acme_alice) as alice_only:
        message = await _tool_error(alice_only, "remember", text="hi", user_id="bob")
        assert "AccessDeniedError: this API key may not access that user" in message
        message = await _tool_error(alice_only, "remember", text="   ", user_id="alice")
        assert "InvalidInputError" in message and "empty" in message
        message = await _tool_error(alice_only, "recall", query="x", k="many", user_id="alice")
        assert "k" in message
        message = await _tool_error(alice_only, "get", engram_id="../../etc", user_id="alice")
        assert "may not contain" in message
    assert server.memory.list("acme:bob") == []
    assert [e.text for e in server.memory.list("acme:alice")] == ["Acme vault code 1234"]


async def test_erasures_tool_is_the_rest_feed_in_the_keys_tenant(server):
    async with over_http(server.url, server.acme) as acme:
        kept = await _tool(acme, "remember", text="I play the cello", user_id="alice")
        gone = await _tool(acme, "remember", text="Acme vault code 1234", user_id="alice")
        start = await _tool(acme, "erasures", user_id="alice")
        assert start["erasures"] == []
        await _tool(acme, "delete", engram_id=gone["id"], user_id="alice")
        feed = await _tool(acme, "erasures", user_id="alice", after=start["cursor"])
        assert [(e["action"], e["engram_ids"]) for e in feed["erasures"]] == [
            ("delete", [gone["id"]])
        ]
        assert kept["id"] not in json.dumps(feed) and "vault" not in json.dumps(feed)
        with server.client(server.acme) as rest:  # the same feed as the REST route's
            assert rest.get("/v1/users/alice/erasures").json() == await _tool(
                acme, "erasures", user_id="alice"
            )
        assert (await _tool(acme, "erasures", user_id="alice", after=feed["cursor"]))[
            "erasures"
        ] == []
        message = await _tool_error(acme, "erasures", user_id="alice", after=-1)
        assert "InvalidInputError: after must be a non-negative integer" in message
    async with over_http(server.url, server.globex) as globex:  # its own, empty "alice"
        assert await _tool(globex, "erasures", user_id="alice") == {"erasures": [], "cursor": 0}
    async with over_http(server.url, server.acme_alice) as alice_only:
        assert (await _tool(alice_only, "erasures", user_id="alice"))["erasures"]
        message = await _tool_error(alice_only, "erasures", user_id="bob")
        assert "AccessDeniedError: this API key may not access that user" in message


async def _resource_error(client: Client, uri: str) -> str:
    with pytest.raises(MCPError) as caught:
        await client.read_resource(uri)
    return str(caught.value)


async def test_the_erasure_feed_resource_is_the_tools_feed_in_the_keys_tenant(server):
    feed_of = "engram://users/{}/erasures".format
    async with over_http(server.url, server.acme) as acme:
        templates = (await acme.list_resource_templates()).resource_templates
        assert {t.uri_template for t in templates} == {
            "engram://users/{user_id}/memories",
            "engram://users/{user_id}/erasures{?after}",
        }
        await _tool(acme, "remember", text="I play the cello", user_id="alice")
        gone = await _tool(acme, "remember", text="Acme vault code 1234", user_id="alice")
        await _tool(acme, "delete", engram_id=gone["id"], user_id="alice")
        whole = json.loads((await acme.read_resource(feed_of("alice"))).contents[0].text)
        assert whole == await _tool(acme, "erasures", user_id="alice")
        assert [(e["action"], e["engram_ids"]) for e in whole["erasures"]] == [
            ("delete", [gone["id"]])
        ]
        cursor = whole["cursor"]
        later = await acme.read_resource(f"{feed_of('alice')}?after={cursor}")
        assert json.loads(later.contents[0].text) == {"erasures": [], "cursor": cursor}
        message = await _resource_error(acme, f"{feed_of('alice')}?after=-1")
        assert "InvalidInputError: after must be a non-negative integer (a cursor), got '-1'" in (
            message
        )
    async with over_http(server.url, server.globex) as globex:  # its own, empty "alice"
        empty = await globex.read_resource(feed_of("alice"))
        assert json.loads(empty.contents[0].text) == {"erasures": [], "cursor": 0}
    async with over_http(server.url, server.acme_alice) as alice_only:
        refused = await _resource_error(alice_only, feed_of("bob"))
        assert "AccessDeniedError: this API key may not access that user" in refused
        assert refused == await _resource_error(alice_only, "engram://users/bob/memories")


async def test_stdio_server(tmp_path):
    db, user = tmp_path / "memory.db", "alice"
    command = ["-m", "engram_agents.cli", "mcp", "--db", str(db), "--user", user]
    params = StdioServerParameters(
        command=sys.executable,
        args=[*command, "--encoder", "hashing"],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    async with Client(params, read_timeout_seconds=120) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        stored = await _tool(client, "remember", text="My dog is called Pixel")
        assert stored["scope"]["user_id"] == user
        hits = (await _tool(client, "recall", query="dog name"))["result"]
        assert hits[0]["engram"]["id"] == stored["id"]
        message = await _tool_error(client, "list", user_id="bob")
        assert "AccessDeniedError" in message
        await _tool(client, "delete", engram_id=stored["id"])
        feed = await _tool(client, "erasures")
        assert [e["engram_ids"] for e in feed["erasures"]] == [[stored["id"]]]
        message = await _tool_error(client, "erasures", user_id="bob")
        assert "AccessDeniedError" in message
    with EngramMemory(db, encoder=HashingEncoder()) as memory:
        assert memory.list(user) == []
        erased = memory.erasures(user).model_dump(mode="json")["erasures"]
        assert erased == feed["erasures"]
