"""Rule-based stand-ins for chat models, for engine and agent loops that need sensible replies
(the tiny random Engram model only says gibberish). They read the prompt the way a model would:
the memory block's lines, the question, tool results. Every prompt they get is kept."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.mock import MockFunctionCallingLLM


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 3}


def recalled(prompt: str, question: str) -> str | None:
    """The remembered line sharing the most words with the question, without its date."""
    lines = [line for line in prompt.splitlines() if line.startswith("- [")]
    overlap, best = max(((len(words(ln) & words(question)), ln) for ln in lines), default=(0, ""))
    return best.split("] ", 1)[1].removeprefix("user: ") if overlap else None


def reply(prompt: str, question: str) -> str:
    memory = recalled(prompt, question)
    return f"You told me: {memory}" if memory else "I don't know."


class RecallingLLM(CustomLLM):
    """Completion model: the prompt's last `user:` line is the question."""

    prompts: list[str] = Field(default_factory=list)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=4096, num_output=64, model_name="recalling")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.prompts.append(prompt)
        users = re.findall(r"^user: (.*)$", prompt, re.M)
        return CompletionResponse(text=reply(prompt, users[-1] if users else prompt))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        response = self.complete(prompt, formatted, **kwargs)
        yield CompletionResponse(text=response.text, delta=response.text)


def tool_agent_llm(tool: str, asks_tool: str) -> tuple[MockFunctionCallingLLM, list]:
    """A function-calling model that answers from memory; a question containing `asks_tool`
    first gets a call of `tool` with the recalled line as `note`, then the tool's result."""
    seen: list[list[ChatMessage]] = []

    def respond(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        seen.append(list(messages))
        prompt = "\n".join(m.content or "" for m in messages)
        question = next(m.content for m in reversed(messages) if m.role == MessageRole.USER)
        results = [m.content for m in messages if m.role == MessageRole.TOOL]
        memory = recalled(prompt, question)
        if results:
            return ChatMessage(role="assistant", content=f"The tool says: {results[-1]}")
        if kwargs.get("tools") and asks_tool in question and memory:
            call = ToolCallBlock(tool_call_id="c1", tool_name=tool, tool_kwargs={"note": memory})
            return ChatMessage(role="assistant", blocks=[call])
        return ChatMessage(role="assistant", content=reply(prompt, question))

    return MockFunctionCallingLLM(response_generator=respond, is_chat_model=True), seen
