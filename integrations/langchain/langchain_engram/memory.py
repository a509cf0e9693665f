"""EngramChatMemory for classic LangChain chains (`langchain_classic` BaseMemory).

Instead of replaying the whole conversation, each call recalls only the memories relevant to
the new input, across every past session of the user. It was called `EngramMemory` before,
the core class's name; that name still works here, with a DeprecationWarning.
"""

from __future__ import annotations

import warnings
from contextlib import suppress
from typing import Any

from langchain_classic.base_memory import BaseMemory
from pydantic import ConfigDict

from engram_agents import ConsentError, InvalidInputError
from engram_agents import EngramMemory as CoreMemory
from engram_agents.chat import HEADER, CheckedId, RecallK, format_memories


class EngramChatMemory(BaseMemory):
    """Long-term memory for a classic chain, scoped to one user (and optionally a session),
    over the core's EngramMemory (`memory`).

    ```python
    from engram_agents import EngramMemory
    from langchain_engram import EngramChatMemory

    memory = EngramChatMemory(memory=EngramMemory("memory.db"), user_id="ana")
    memory.save_context({"input": "My dog is called Pixel"}, {"output": "Nice name!"})
    memory.load_memory_variables({"input": "what is my dog called?"})["history"]
    ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: CoreMemory
    user_id: CheckedId
    session_id: CheckedId | None = None
    """Remembered turns are tagged with this session; `clear` forgets only this session."""
    k: RecallK = 5
    memory_key: str = "history"
    input_key: str | None = None
    """The chain input holding the user's words (None: the only input not set by memory)."""
    output_key: str | None = None
    """The chain output holding the reply (None: the only output)."""
    header: str = HEADER

    @property
    def memory_variables(self) -> list[str]:
        return [self.memory_key]

    def _input(self, inputs: dict[str, Any]) -> str:
        return _pick(inputs, self.input_key, {self.memory_key, "stop"}, "input")

    def _turn(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> list[dict[str, str]]:
        said = self._input(inputs)
        reply = _pick(outputs, self.output_key, set(), "output")
        return [{"role": "user", "content": said}, {"role": "assistant", "content": reply}]

    def load_memory_variables(self, inputs: dict[str, Any]) -> dict[str, str]:
        """The memories relevant to the input, as a text block for the prompt."""
        hits = self.memory.recall(self._input(inputs), self.user_id, self.k)
        return {self.memory_key: format_memories(hits, header=self.header)}

    async def aload_memory_variables(self, inputs: dict[str, Any]) -> dict[str, str]:
        hits = await self.memory.arecall(self._input(inputs), self.user_id, self.k)
        return {self.memory_key: format_memories(hits, header=self.header)}

    def save_context(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        """Remember the turn: what the user said and the reply, one memory each (nothing when
        the user switched persistent memory off)."""
        with suppress(ConsentError):
            self.memory.remember(
                self._turn(inputs, outputs), self.user_id, session_id=self.session_id
            )

    async def asave_context(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        with suppress(ConsentError):
            await self.memory.aremember(
                self._turn(inputs, outputs), self.user_id, session_id=self.session_id
            )

    def clear(self) -> None:
        """Forget this session's memories (all of the user's when no session is set)."""
        self.memory.forget(
            self.user_id, session_id=self.session_id, everything=self.session_id is None
        )

    async def aclear(self) -> None:
        await self.memory.aforget(
            self.user_id, session_id=self.session_id, everything=self.session_id is None
        )


def _pick(values: dict[str, Any], key: str | None, skip: set[str], what: str) -> str:
    """The text under `key`, or under the only key not in `skip`; a clear error otherwise."""
    if key is None:
        keys = [k for k in values if k not in skip]
        if len(keys) != 1:
            raise InvalidInputError(f"cannot tell which {what} to use among {keys}; set {what}_key")
        key = keys[0]
    if key not in values:
        raise InvalidInputError(f"the {what} key {key!r} is missing (got {sorted(values)})")
    value = values[key]
    text = getattr(value, "text", value)  # a message (e.g. an AIMessage output) or a string
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"the {what} {key!r} must be non-empty text, got {value!r}")
    return text


def deprecated_name(name: str) -> type[EngramChatMemory]:
    """`EngramMemory`, the old name of EngramChatMemory, with a warning naming the new one
    (module `__getattr__` of this module and of the package)."""
    if name != "EngramMemory":
        raise AttributeError(name)
    warnings.warn(
        "langchain_engram.EngramMemory is now EngramChatMemory (engram_agents.EngramMemory is "
        "the core memory it wraps); the old name will be removed",
        DeprecationWarning,
        stacklevel=3,
    )
    return EngramChatMemory


def __getattr__(name: str) -> type[EngramChatMemory]:
    try:
        return deprecated_name(name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
