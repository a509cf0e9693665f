"""Memory the agent manages itself: the four verbs an agent calls as tools.

Framework-free, shared by the LangChain and LlamaIndex integrations so an agent sees the same
tool names, argument schemas, descriptions and result text whichever framework it runs in. The
user is never an argument the model fills in: each integration resolves it (LangChain from the
run's context or config, LlamaIndex at construction) and passes it to these methods. Results are
compact text that names each memory's id, so the model can correct or forget what it found.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError

from engram_agents.errors import InvalidInputError
from engram_agents.ids import check_id
from engram_agents.memory import EngramMemory
from engram_agents.store.records import RecallHit

__all__ = [
    "ARGS",
    "DESCRIPTIONS",
    "MAX_K",
    "MemoryTools",
    "check_id",
    "describe_hits",
]

MAX_K = 20  # the most memories one search returns to the model (its context is small)


class SearchArgs(BaseModel):
    query: str = Field(description="What to look for, in plain words.")
    k: int = Field(default=5, ge=1, le=MAX_K, description="How many memories to return at most.")
    time_range: str | None = Field(
        default=None,
        description="Only memories about this period, e.g. 'last week', 'yesterday', 'in May'.",
    )
    tags: list[str] | None = Field(
        default=None, description="Only memories whose tags include all of these words."
    )


class SaveArgs(BaseModel):
    content: str = Field(description="The fact to remember, as one self-contained sentence.")


class UpdateArgs(BaseModel):
    id: str = Field(description="The id of the memory to correct (from search_memory).")
    content: str = Field(description="The corrected fact, replacing the memory's text.")


class ForgetArgs(BaseModel):
    id: str = Field(description="The id of the memory to delete (from search_memory).")


DESCRIPTIONS = {
    "search_memory": "Search the user's long-term memory. Returns the best matches first, each "
    "with its id, date, text and why it matched.",
    "save_memory": "Save a fact about the user to long-term memory so later conversations can "
    "recall it. Returns the new memory's id.",
    "update_memory": "Correct a memory that changed or was wrong: replaces its text. Use the id "
    "search_memory returned.",
    "forget_memory": "Delete a memory for good, e.g. when the user asks you to forget it. Use the "
    "id search_memory returned.",
}
ARGS: dict[str, type[BaseModel]] = {
    "search_memory": SearchArgs,
    "save_memory": SaveArgs,
    "update_memory": UpdateArgs,
    "forget_memory": ForgetArgs,
}


def describe_hits(hits: list[RecallHit]) -> str:
    """One line per memory, best first: id, date, text and the recall explanation."""
    if not hits:
        return "No memories found."
    lines = [f"{len(hits)} {'memory' if len(hits) == 1 else 'memories, best first'}:"]
    for hit in hits:
        text = " ".join(hit.engram.text.split())
        day = hit.engram.when.date().isoformat()
        lines.append(f"- id={hit.engram.id} [{day}] {text} (why: {hit.explanation})")
    return "\n".join(lines)


class MemoryTools:
    """The verbs behind search_memory, save_memory, update_memory and forget_memory, over one
    EngramMemory. Each takes the user explicitly and returns the text the model reads (search
    also returns the hits). Bad input raises the store's own errors (`EngramError`), which
    the integrations turn into error results the model can read."""

    def __init__(self, memory: EngramMemory, *, agent_id: str | None = None) -> None:
        self.memory = memory
        self.agent_id = agent_id

    def search(
        self,
        user_id: str,
        query: str,
        k: int = 5,
        time_range: str | None = None,
        tags: list[str] | None = None,
    ) -> tuple[str, list[RecallHit]]:
        try:
            args = SearchArgs(query=query, k=k, time_range=time_range, tags=tags)
        except ValidationError as exc:
            raise InvalidInputError(f"bad search_memory arguments: {exc}") from exc
        hits = self.memory.recall(
            args.query, user_id, args.k, time_range=args.time_range, tags=args.tags
        )
        return describe_hits(hits), hits

    def save(self, user_id: str, content: str, session_id: str | None = None) -> str:
        engram = self.memory.remember(
            content, user_id, agent_id=self.agent_id, session_id=session_id
        )
        return f"Saved memory id={engram.id}: {engram.text}"

    def update(self, user_id: str, id: str, content: str) -> str:
        engram = self.memory.update(check_id(id, "id"), user_id, text=content)
        return f"Updated memory id={engram.id}: {engram.text}"

    def forget(self, user_id: str, id: str) -> str:
        self.memory.delete(check_id(id, "id"), user_id)
        return f"Forgot memory id={id}."
