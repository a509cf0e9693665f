"""ChatEngram: the local EngramLM as a LangChain chat model.

The model runs in-process (no server); a user's memorized facts are recalled from the Engram
tables, not from the prompt. Tool calling is prompted (the small default model has no native
tool API): the tools are listed in the system prompt, replies are parsed with
`engram_agents.tool_calls`, and a required tool call is forced by starting the reply with it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import aclosing
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from engram_agents import EngramConfig, EngramLM, InvalidInputError
from engram_agents.chat import (
    DEFAULT_MODEL_NAME,
    ChatTurn,
    LazyLM,
    MessagePart,
    message_content,
    render_tool_call,
    render_tool_result,
    reply_prefix,
    stream_in_thread,
)

NON_TEXT_BLOCKS = {"image", "image_url", "audio", "input_audio", "file", "video"}


def _text(message: BaseMessage) -> str:
    """A message's text; images, audio and files are refused rather than silently dropped."""
    if isinstance(message.content, list):
        kinds = {b.get("type") for b in message.content if isinstance(b, dict)}
        if kinds & NON_TEXT_BLOCKS:
            raise InvalidInputError(
                f"ChatEngram reads text only; the {message.type} message has "
                f"{sorted(kinds & NON_TEXT_BLOCKS)} content"
            )
    return message.text


def _content(message: BaseMessage) -> str | list[dict[str, Any]]:
    """A message's text, or its text parts when some carry `engram_agents.chat`'s UNKEYED or
    RECALLED marks in their extras."""
    text = _text(message)
    if isinstance(message.content, str):
        return text
    parts = [
        MessagePart(text=b) if isinstance(b, str) else MessagePart.of_block(b["text"], b)
        for b in message.content
        if isinstance(b, str) or (b.get("type") == "text" and isinstance(b.get("text"), str))
    ]
    return message_content(parts, text)


def to_engram_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as the {role, content} dicts EngramLM takes; tool calls and tool
    results are written in the same format the tool prompt asks the model to use."""
    out = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": _content(m)})
        elif isinstance(m, HumanMessage):
            out.append({"role": "user", "content": _content(m)})
        elif isinstance(m, AIMessage):
            calls = [render_tool_call(c["name"], c["args"]) for c in m.tool_calls]
            out.append({"role": "assistant", "content": "\n".join([_text(m), *calls]).strip()})
        elif isinstance(m, ToolMessage):
            out.append({"role": "tool", "content": render_tool_result(_text(m), m.name)})
        elif isinstance(m, ChatMessage) and m.role in ("system", "user", "assistant", "tool"):
            out.append({"role": m.role, "content": _text(m)})
        else:
            raise InvalidInputError(f"ChatEngram cannot take a {type(m).__name__} ({m.type!r})")
    return out


def _tool_choice_name(tool_choice: Any) -> Any:
    """LangChain's tool_choice spellings reduced to what `engram_agents.tool_calls` takes."""
    if isinstance(tool_choice, dict):
        return (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
    return tool_choice


class ChatEngram(BaseChatModel):
    """Chat model over a local EngramLM (the embedded SmolLM2-135M-Instruct by default).

    ```python
    from langchain_engram import ChatEngram

    llm = ChatEngram(max_tokens=64)                  # embedded default, loads on first use
    llm.invoke("What is the capital of France?")
    ChatEngram(model="/path/to/hf-model", user_id="ana")   # ana's memorized facts in-model
    ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    model: str | None = None
    """A local Hugging Face causal-LM folder; None is the embedded default model."""
    lm: EngramLM | None = Field(default=None, exclude=True)
    """An already loaded EngramLM to use instead of loading `model` (e.g. shared with memorize)."""
    engram_config: EngramConfig | None = None
    storage_dir: str | None = None
    """Where per-user memory deltas live (EngramLM's default when None)."""
    user_id: str | None = None
    """Whose memorized facts are loaded into the tables; None uses the shared tables only."""
    temperature: float = 0.0
    max_tokens: int = Field(default=256, ge=1, alias="max_new_tokens")
    top_p: float = 1.0
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    seed: int | None = None
    memory_weight: float = Field(default=0.5, ge=0)
    """How much more the reply follows recalled memories (text blocks marked
    `engram_agents.chat.RECALLED`, as the EngramMemoryMiddleware puts them) than the model
    alone would: contrastive decoding, one more forward pass per token; 0 decodes plainly."""
    tables_weight: float = Field(default=0.5, ge=0)
    """Beside recalled memories and a user's tables: how much what the tables recall from the
    question alone adds (one more forward pass per token); 0 leaves the tables keyed as usual."""

    _lm: LazyLM = PrivateAttr(default_factory=LazyLM)

    @property
    def _llm_type(self) -> str:
        return "engram"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "seed": self.seed,
            "memory_weight": self.memory_weight,
            "tables_weight": self.tables_weight,
        }

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_MODEL_NAME

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="engram",
            ls_model_name=kwargs.get("model") or self.model_name,
            ls_model_type="chat",
            ls_temperature=kwargs.get("temperature", self.temperature),
            ls_max_tokens=kwargs.get("max_tokens", self.max_tokens),
        )
        if stop := stop or self.stop:
            params["ls_stop"] = stop
        return params

    @property
    def engram_lm(self) -> EngramLM:
        """The EngramLM behind this chat model, loaded on first use."""
        return self._lm.get(self.lm, self.model, self.engram_config, self.storage_dir)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence | None = None
    ) -> int:
        """Exact prompt length in the model's own tokenizer and chat template."""
        specs = [convert_to_openai_tool(t) for t in tools or []]
        msgs = to_engram_messages(messages)
        turn = ChatTurn(
            self._engram_lm, msgs, tools=specs, defaults=self._defaults(), who="ChatEngram"
        )
        return turn.usage()[0]

    # -- tools ----------------------------------------------------------------------------
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable | BaseTool],
        *,
        tool_choice: dict | str | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools, listed to the model in its system prompt.

        tool_choice: "auto"/None (the model decides), "none" (tools are not offered),
        "any"/"required"/True (some tool must be called) or a tool name.
        """
        formatted = [convert_to_openai_tool(t) for t in tools]
        choice = _tool_choice_name(tool_choice)
        if formatted:
            reply_prefix(choice, formatted)  # fails now, naming the problem, if choice is bad
        return super().bind(tools=formatted, tool_choice=choice, **kwargs)

    # -- generation -----------------------------------------------------------------------
    def _engram_lm(self) -> EngramLM:
        return self.engram_lm

    def _defaults(self) -> dict[str, Any]:
        """The sampling defaults by EngramLM's names (LangChain's max_tokens: max_new_tokens)."""
        named = self._identifying_params
        return {
            ("max_new_tokens" if k == "max_tokens" else k): named[k] for k in named if k != "model"
        }

    def _turn(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ChatTurn:
        tools = kwargs.pop("tools", None) or []
        choice = kwargs.pop("tool_choice", None)
        msgs = to_engram_messages(messages)
        if not msgs:
            raise InvalidInputError("ChatEngram needs at least one message")
        given = {k: v for k, v in kwargs.items() if k not in ("max_tokens", "user_id")}
        if "max_tokens" in kwargs:  # LangChain's name for it
            given["max_new_tokens"] = kwargs["max_tokens"]
        return ChatTurn(
            self._engram_lm,
            msgs,
            tools=tools,
            tool_choice=choice,
            stop=stop if stop is not None else self.stop,
            given=given,
            defaults=self._defaults(),
            user_id=self.recall_user(kwargs),
            who="ChatEngram",
        )

    def recall_user(self, call_kwargs: dict[str, Any]) -> str | None:
        """Whose memorized tables a call with these arguments recalls (None: the shared ones)."""
        return call_kwargs.get("user_id", self.user_id)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        turn = self._turn(messages, stop, kwargs)
        for piece in turn.pieces():
            if run_manager and not turn.tools:
                run_manager.on_llm_new_token(piece)
        message = self._reply_message(turn, AIMessage)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Text streams token by token. With tools bound, the reply is parsed whole (a tool
        call is only known once its JSON is complete) and comes as one chunk."""
        turn = self._turn(messages, stop, kwargs)
        for piece in turn.pieces():
            if not turn.tools:
                if run_manager:
                    run_manager.on_llm_new_token(piece)
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        # without tools the text went out in pieces: the last chunk carries the metadata
        last = self._reply_message(turn, AIMessageChunk, streamed=not turn.tools)
        last.chunk_position = "last"
        yield ChatGenerationChunk(message=last)

    def _reply_message(
        self,
        turn: ChatTurn,
        kind: type[AIMessage] | type[AIMessageChunk],
        streamed: bool = False,
    ) -> Any:
        """The finished turn as an AIMessage or the final chunk (without its text when that was
        `streamed` already): content, parsed tool calls, usage and response metadata."""
        prompt, out = turn.usage()
        meta = {
            "usage_metadata": UsageMetadata(
                input_tokens=prompt, output_tokens=out, total_tokens=prompt + out
            ),
            "response_metadata": {
                "model_name": self.model_name,
                "model_provider": "engram",
                "finish_reason": turn.finish_reason(out),
            },
        }
        if not turn.tools:
            return kind(content="" if streamed else turn.text, **meta)
        parsed = turn.parsed()
        invalid = [
            invalid_tool_call(name=c.name, args=c.arguments, id=c.id, error=c.error)
            for c in parsed.invalid_tool_calls
        ]
        if kind is AIMessageChunk:
            chunks = [
                tool_call_chunk(name=c.name, args=json.dumps(c.arguments), id=c.id, index=i)
                for i, c in enumerate(parsed.tool_calls)
            ]
            return AIMessageChunk(
                content=parsed.content, tool_call_chunks=chunks, invalid_tool_calls=invalid, **meta
            )
        calls = [tool_call(name=c.name, args=c.arguments, id=c.id) for c in parsed.tool_calls]
        return AIMessage(
            content=parsed.content, tool_calls=calls, invalid_tool_calls=invalid, **meta
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        """The sync stream run in one worker thread (`engram_agents.chat.stream_in_thread`),
        its chunks handed over as they come; decoding stops when the caller stops reading."""
        chunks = stream_in_thread(self._stream(messages, stop, None, **kwargs))
        async with aclosing(chunks):
            async for item in chunks:
                if run_manager and item.message.chunk_position != "last":
                    await run_manager.on_llm_new_token(item.text, chunk=item)
                yield item


__all__ = ["ChatEngram", "to_engram_messages"]
