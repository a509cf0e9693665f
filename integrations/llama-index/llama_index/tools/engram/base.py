"""EngramMemoryToolSpec: memory the agent manages itself, as LlamaIndex tools.

The agent searches, saves, corrects and forgets the memories of the one user the spec is built
for; no tool takes a user, so a model cannot reach another user's memories. Store errors (an
unknown id, empty text) reach the agent as error tool outputs it can read, and the run goes on.
"""

from __future__ import annotations

from typing import ClassVar

from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec
from llama_index.core.tools.types import ToolMetadata

from engram_agents import EngramMemory as CoreMemory
from engram_agents.chat import (
    MEMORY_TOOL_ARGS as ARGS,
)
from engram_agents.chat import (
    MEMORY_TOOL_DESCRIPTIONS as DESCRIPTIONS,
)
from engram_agents.chat import (
    MemoryTools,
    check_id,
)


class EngramMemoryToolSpec(BaseToolSpec):
    """`search_memory`, `save_memory`, `update_memory` and `forget_memory` for one user.

    >>> tools = EngramMemoryToolSpec(EngramMemory("memory.db"), user_id="ana").to_tool_list()
    >>> agent = FunctionAgent(tools=tools, llm=llm)

    `agent_id` and `session_id` are stored on the memories the agent saves.
    """

    spec_functions: ClassVar[list[SPEC_FUNCTION_TYPE]] = list(DESCRIPTIONS)

    def __init__(
        self,
        store: CoreMemory,
        user_id: str,
        *,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        self.user_id = check_id(user_id)
        self.session_id = None if session_id is None else check_id(session_id, "session_id")
        self.verbs = MemoryTools(store, agent_id=agent_id)

    def get_fn_schema_from_fn_name(
        self, fn_name: str, spec_functions: list[SPEC_FUNCTION_TYPE] | None = None
    ) -> type:
        return ARGS[fn_name]

    def get_metadata_from_fn_name(
        self, fn_name: str, spec_functions: list[SPEC_FUNCTION_TYPE] | None = None
    ) -> ToolMetadata:
        """The shared description and argument schema (the LangChain tools show the same)."""
        description, schema = DESCRIPTIONS[fn_name], ARGS[fn_name]
        return ToolMetadata(name=fn_name, description=description, fn_schema=schema)

    def search_memory(
        self, query: str, k: int = 5, time_range: str | None = None, tags: list[str] | None = None
    ) -> str:
        return self.verbs.search(self.user_id, query, k, time_range, tags)[0]

    def save_memory(self, content: str) -> str:
        return self.verbs.save(self.user_id, content, self.session_id)

    def update_memory(self, id: str, content: str) -> str:
        return self.verbs.update(self.user_id, id, content)

    def forget_memory(self, id: str) -> str:
        return self.verbs.forget(self.user_id, id)
