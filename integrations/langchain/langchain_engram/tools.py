"""Memory tools: the agent searches, saves, corrects and forgets memories through its own tool
calls, alongside or instead of `EngramMemoryMiddleware`.

The user is found the way the middleware finds it (runtime context, then
`config["configurable"]`, then the `user_id` given here), never in the model's arguments: a
model cannot name another user, and an argument it adds is dropped. Bad input and unknown ids
come back to the model as error tool messages, so the run goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from langchain.tools import ToolRuntime
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import ValidationError

from engram_agents import EngramError
from engram_agents import EngramMemory as CoreMemory
from engram_agents.chat import (
    MEMORY_TOOL_ARGS as ARGS,
)
from engram_agents.chat import (
    MEMORY_TOOL_DESCRIPTIONS as DESCRIPTIONS,
)
from engram_agents.chat import (
    MemoryTools,
)
from langchain_engram._scope import NoUserError, configurable, find_user


def create_memory_tools(
    memory: CoreMemory, *, user_id: str | None = None, agent_id: str | None = None
) -> list[BaseTool]:
    """`search_memory`, `save_memory`, `update_memory` and `forget_memory` over `memory`.

    ```python
    tools = create_memory_tools(EngramMemory("memory.db"))
    agent = create_agent(model, tools=tools)
    agent.invoke({"messages": [...]}, context={"user_id": "ana"})
    ```

    `user_id` is the user when the run names none; `agent_id` is stored on saved memories. A
    saved memory's session is the run's `thread_id`. `search_memory` returns the hits as the
    tool message's artifact too.
    """
    verbs = MemoryTools(memory, agent_id=agent_id)

    def user(runtime: ToolRuntime | None) -> str:
        return find_user(getattr(runtime, "context", None), user_id, "create_memory_tools")

    def search_memory(
        query: str,
        k: int = 5,
        time_range: str | None = None,
        tags: list[str] | None = None,
        runtime: ToolRuntime = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        text, hits = verbs.search(user(runtime), query, k, time_range, tags)
        found = [
            {"id": h.engram.id, "text": h.engram.text, "score": h.score, "why": h.explanation}
            for h in hits
        ]
        return text, found

    def save_memory(content: str, runtime: ToolRuntime = None) -> str:
        session = configurable().get("thread_id")
        return verbs.save(user(runtime), content, session)

    def update_memory(id: str, content: str, runtime: ToolRuntime = None) -> str:
        return verbs.update(user(runtime), id, content)

    def forget_memory(id: str, runtime: ToolRuntime = None) -> str:
        return verbs.forget(user(runtime), id)

    return [
        _tool(search_memory, "content_and_artifact"),
        _tool(save_memory),
        _tool(update_memory),
        _tool(forget_memory),
    ]


def _tool(verb: Callable[..., Any], response_format: str = "content") -> StructuredTool:
    """The verb as a tool whose store errors become error tool messages the model reads."""

    @functools.wraps(verb)  # keeps the signature: ToolNode injects `runtime` by its annotation
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return verb(*args, **kwargs)
        except NoUserError:
            raise
        except EngramError as exc:
            raise ToolException(f"{verb.__name__} failed: {exc}") from exc

    return StructuredTool.from_function(
        run,
        name=verb.__name__,
        description=DESCRIPTIONS[verb.__name__],
        args_schema=ARGS[verb.__name__],
        response_format=response_format,
        handle_tool_error=True,
        handle_validation_error=_invalid_arguments,
    )


def _invalid_arguments(exc: ValidationError) -> str:
    """What was wrong with the model's arguments, so it can fix them and call again."""
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return f"invalid arguments ({problems}); fix them and call again"
