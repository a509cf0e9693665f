"""langchain-tests' standard unit and integration suites for the four memory tools (name,
input schema, invoke with and without a ToolCall, sync and async)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from engram_agents import EngramMemory
from engram_agents.store.encoders import HashingEncoder
from langchain_engram import create_memory_tools

FOLDER = tempfile.TemporaryDirectory()
MEMORY = EngramMemory(Path(FOLDER.name) / "memory.db", encoder=HashingEncoder(dim=256))
FACT = MEMORY.remember("The user's dog is a greyhound called Pixel", "ana")
TOOLS = {t.name: t for t in create_memory_tools(MEMORY, user_id="ana")}
EXAMPLES = {
    "search_memory": {"query": "dog", "k": 2, "time_range": None, "tags": ["greyhound"]},
    "save_memory": {"content": "The user drinks green tea"},
    "update_memory": {"id": FACT.id, "content": "The user's dog is a whippet called Pixel"},
    "forget_memory": {"id": "no-such-memory"},  # an error result, not an exception
}


@pytest.fixture(scope="module", autouse=True)
def _close() -> Iterator[None]:
    yield
    MEMORY.close()
    FOLDER.cleanup()


class MemoryToolSuite:
    name: str

    @property
    def tool_constructor(self) -> BaseTool:
        return TOOLS[self.name]

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return EXAMPLES[self.name]


# one unit and one integration suite per tool (TestSearchMemoryUnit, ...)
for _name in EXAMPLES:
    for _suite in (ToolsUnitTests, ToolsIntegrationTests):
        _kind = _suite.__name__.removeprefix("Tools").removesuffix("Tests")
        _title = "Test" + _name.title().replace("_", "") + _kind
        globals()[_title] = type(_title, (MemoryToolSuite, _suite), {"name": _name})
