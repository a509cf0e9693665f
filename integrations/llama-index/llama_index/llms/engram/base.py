"""Engram: the local EngramLM as a LlamaIndex function-calling LLM."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from engram_agents import EngramConfig, EngramLM, InvalidInputError
from engram_agents.chat import (
    DEFAULT_MODEL_NAME,
    SAMPLING_ARGS,
    ChatTurn,
    LazyLM,
    MessagePart,
    ToolSpec,
    message_content,
    parse_tool_calls,
    render_tool_call,
    render_tool_result,
    stream_in_thread,
)

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

ROLE_NAMES = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}


class Engram(FunctionCallingLLM):
    """A local Hugging Face causal LM with Engram layers (the embedded SmolLM2-135M-Instruct by
    default), with `user_id`'s memorized facts loaded into its tables: it recalls them with
    nothing retrieved into the prompt. Tools are offered in the system prompt and calls are
    parsed from the reply; a required call (`tool_required=True`, or a `tool_choice` naming a
    tool) is forced by starting the reply with its opening.

    >>> llm = Engram(user_id="ana", max_new_tokens=128)    # loads on first use
    >>> llm.complete("When is my dentist appointment?")
    >>> Engram(model="/path/to/hf-model")                   # any local causal-LM folder
    >>> Engram(lm=lm)                                       # an EngramLM you already hold
    """

    model: str | None = Field(
        default=None, description="A local Hugging Face model folder; None: the embedded default."
    )
    engram_config: EngramConfig | None = Field(default=None, description="Engram layer config.")
    storage_dir: str | None = Field(default=None, description="Where per-user deltas live.")
    user_id: str | None = Field(
        default=None, description="Whose memorized facts to load; None: the shared tables."
    )
    max_new_tokens: int = Field(default=256, ge=1, description="Longest reply, in tokens.")
    temperature: float = Field(default=0.0, ge=0.0, description="0 decodes greedily.")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    stop: list[str] | None = Field(default=None, description="Strings that end the reply.")
    seed: int | None = Field(default=None, description="Sampling seed.")
    memory_weight: float = Field(
        default=0.5,
        ge=0.0,
        description="How much more the reply follows recalled memories (text blocks with "
        "engram_agents.chat's RECALLED marks: the RecalledTextBlocks EngramMemory puts) than "
        "the model alone would: contrastive decoding, one more forward pass per token; 0 "
        "decodes plainly.",
    )
    tables_weight: float = Field(
        default=0.5,
        ge=0.0,
        description="Beside recalled memories and the user's tables: how much what the tables "
        "recall from the question alone adds (one more forward pass per token); 0 leaves the "
        "tables keyed as usual.",
    )
    context_window: int | None = Field(
        default=None, ge=1, description="Prompt + reply tokens; default: the model's own."
    )
    lm: EngramLM | None = Field(
        default=None, exclude=True, description="An already loaded EngramLM to use."
    )

    _lm: LazyLM = PrivateAttr(default_factory=LazyLM)

    @classmethod
    def class_name(cls) -> str:
        return "Engram"

    @property
    def engram_lm(self) -> EngramLM:
        """The EngramLM behind this LLM, loaded on first use."""
        return self._lm.get(self.lm, self.model, self.engram_config, self.storage_dir)

    @property
    def metadata(self) -> LLMMetadata:
        window = self.context_window
        if window is None:
            window = getattr(self.engram_lm.model.base.config, "max_position_embeddings", 2048)
        return LLMMetadata(
            context_window=window,
            num_output=self.max_new_tokens,
            is_chat_model=True,
            is_function_calling_model=True,
            model_name=self.model_name,
        )

    @property
    def model_name(self) -> str:
        if self.model is None and self.lm is None:
            return DEFAULT_MODEL_NAME
        return Path(self.model or self.engram_lm.model.base.config._name_or_path).name

    # -- chat -----------------------------------------------------------------------------
    def _turn(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatTurn:
        """Checks everything now; the reply is decoded as its pieces are consumed."""
        kwargs = dict(kwargs)
        tools = kwargs.pop("tools", None) or []
        choice = kwargs.pop("tool_choice", None)
        stop = kwargs.pop("stop", self.stop)
        return ChatTurn(
            lambda: self.engram_lm,
            to_engram_messages(messages),
            tools=tools,
            tool_choice=choice,
            stop=stop,
            given=kwargs,
            defaults={k: getattr(self, k) for k in SAMPLING_ARGS},
            user_id=self.user_id,
            who="Engram",
        )

    def _chat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatResponse:
        turn = self._turn(messages, kwargs)
        return reply(turn.whole(), turn.tools)

    def _stream(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatResponseGen:
        """Text streams piece by piece; with tools the reply comes whole, once its tool calls
        can be parsed."""
        turn = self._turn(messages, kwargs)
        pieces = turn.pieces()  # the model is called now, not when the first piece is asked for

        def gen() -> ChatResponseGen:
            if turn.tools:
                yield reply(turn.whole(), turn.tools)
                return
            for piece in pieces:
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=turn.text), delta=piece
                )

        return gen()

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream(messages, kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await asyncio.to_thread(self._chat, messages, kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        # checks the input before returning; decoding stops when the caller stops reading
        return stream_in_thread(self._stream(messages, kwargs))

    # -- completion ------------------------------------------------------------------------
    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(self.chat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return stream_chat_to_completion_decorator(self.stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return await achat_to_completion_decorator(self.achat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        return await astream_chat_to_completion_decorator(self.astream_chat)(prompt, **kwargs)

    # -- tools ----------------------------------------------------------------------------
    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        specs = [
            ToolSpec(t.metadata.name, t.metadata.description, t.metadata.get_parameters_dict())
            for t in tools
        ]
        if tool_choice is None and tool_required:
            tool_choice = "required"
        return {"messages": messages, "tools": specs, "tool_choice": tool_choice, **kwargs}

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Without parallel tool calls, only the first call is kept."""
        if not allow_parallel_tool_calls:
            calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
            response.message.blocks = [b for b in response.message.blocks if b not in calls[1:]]
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        calls = [
            ToolSelection(
                tool_id=b.tool_call_id or "", tool_name=b.tool_name, tool_kwargs=b.tool_kwargs
            )
            for b in response.message.blocks
            if isinstance(b, ToolCallBlock)
        ]
        if not calls and error_on_no_tool_call:
            invalid = response.additional_kwargs.get("invalid_tool_calls") or []
            why = "".join(f"; {c['error']}: {c['arguments']}" for c in invalid)
            raise ValueError(f"Expected at least one tool call, but the model made none{why}")
        return calls


def to_engram_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """LlamaIndex messages as the {role, content} dicts EngramLM takes. Tool calls and results
    are written in the format the tool prompt asks the model to use; non-text content (images,
    audio, documents) is refused rather than silently dropped. A text block carrying the core's
    marks (`engram_agents.chat.MessagePart.of_block`), such as a RecalledTextBlock, stays a part
    of its own, read but not keyed."""
    if isinstance(messages, ChatMessage | str) or not messages:
        raise InvalidInputError("Engram needs a non-empty list of ChatMessage")
    names: dict[str, str] = {}  # tool call id -> tool name, to label the results
    out = []
    for n, message in enumerate(messages):
        if not isinstance(message, ChatMessage):
            raise InvalidInputError(
                f"message {n} must be a ChatMessage, got {type(message).__name__}"
            )
        parts: list[MessagePart] = []
        for block in message.blocks:
            if isinstance(block, TextBlock):
                parts.append(MessagePart.of_block(block.text, block))
            elif isinstance(block, ToolCallBlock):
                names[block.tool_call_id or ""] = block.tool_name
                call = render_tool_call(block.tool_name, as_arguments(block.tool_kwargs))
                parts.append(MessagePart(text=call))
            elif not isinstance(block, ThinkingBlock | CachePoint):
                raise InvalidInputError(
                    f"message {n}: Engram reads text only, got a {block.block_type} block"
                )
        role = ROLE_NAMES[message.role]
        if role == "tool":
            extra = message.additional_kwargs
            name = extra.get("name") or names.get(extra.get("tool_call_id", ""))
            content: Any = render_tool_result("\n".join(p.text for p in parts), name)
        else:  # the parts one to a line; as parts only when some are marked
            lines = [p.model_copy(update={"text": p.text + "\n"}) for p in parts[:-1]]
            content = message_content([*lines, *parts[-1:]])
        out.append({"role": role, "content": content})
    return out


def as_arguments(kwargs: dict[str, Any] | str) -> dict[str, Any]:
    """A past call's arguments (other LLMs may leave them as a JSON string)."""
    if isinstance(kwargs, dict):
        return kwargs
    try:
        value = json.loads(kwargs)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"input": kwargs}


def reply(text: str, tools: Sequence[ToolSpec]) -> ChatResponse:
    """The model's text as a response: with tools, calls parsed into ToolCallBlocks (those
    that could not be used are listed, with why, in `additional_kwargs["invalid_tool_calls"]`)."""
    if not tools:
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), raw=text)
    parsed = parse_tool_calls(text, tools)
    blocks: list[Any] = [TextBlock(text=parsed.content)] if parsed.content else []
    blocks += [
        ToolCallBlock(tool_call_id=c.id, tool_name=c.name, tool_kwargs=c.arguments)
        for c in parsed.tool_calls
    ]
    invalid = [
        {"id": c.id, "name": c.name, "arguments": c.arguments, "error": c.error}
        for c in parsed.invalid_tool_calls
    ]
    return ChatResponse(
        message=ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks),
        raw=text,
        delta=text,
        additional_kwargs={"invalid_tool_calls": invalid} if invalid else {},
    )
