"""`ChatTurn`: one chat call to an EngramLM, the flow every framework chat model runs.

A framework's chat model (LangChain's `ChatEngram`, LlamaIndex's `Engram`) only translates: its
messages into the {role, content} dicts EngramLM takes (with `MessagePart`s for marked text), and
the turn's text and tool calls back into its own reply types. Everything between is here, once:
the call's sampling arguments checked against the whitelist, the plan (tools offered in the
system prompt, the reply's forced start, where to stop), decoding as the reply is consumed, the
tool calls parsed from the whole reply, and the token counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from engram_agents.errors import InvalidInputError
from engram_agents.lm import EngramLM
from engram_agents.tool_call_parser import parse_tool_calls
from engram_agents.tool_calls import ParsedReply, Tools, ToolSpec, plan_reply

SAMPLING_ARGS = (
    "max_new_tokens",
    "temperature",
    "top_p",
    "seed",
    "memory_weight",
    "tables_weight",
)
"""The `EngramLM.stream` arguments a single call may set (beside messages, stop and the user)."""


def sampling_params(
    given: Mapping[str, Any], defaults: Mapping[str, Any], who: str
) -> dict[str, Any]:
    """Every sampling argument of one call: as given, else its default. A name that is not a
    sampling argument fails, naming it, rather than being ignored (a typo would be silent)."""
    unknown = set(given) - set(SAMPLING_ARGS)
    if unknown:
        raise InvalidInputError(f"{who} got unknown arguments {sorted(unknown)}")
    return {name: given.get(name, defaults[name]) for name in SAMPLING_ARGS}


class ChatTurn:
    """One reply: checked and planned when made, decoded as `pieces()` is consumed.

    `lm` is called for the model only when it is needed (a forced call that is already whole
    decodes nothing), so a chat model can load its default model on first use. `given` are the
    call's sampling arguments, `defaults` the chat model's (one value per `SAMPLING_ARGS` name);
    `who` names the chat model in errors.
    """

    def __init__(
        self,
        lm: Callable[[], EngramLM],
        messages: list[dict[str, Any]],
        *,
        tools: Tools = (),
        tool_choice: Any = None,
        stop: str | Sequence[str] | None = None,
        given: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any],
        user_id: str | None = None,
        who: str,
    ) -> None:
        self._lm = lm
        self.plan = plan_reply(messages, tools, tool_choice, stop)
        self.params = sampling_params(given or {}, defaults, who)
        self.user_id = user_id
        self._decoded: list[str] = []
        self._pieces: Iterator[str] | None = None

    @property
    def tools(self) -> list[ToolSpec]:
        """The tools offered: the reply is parsed for their calls (none: it is plain text)."""
        return self.plan.tools

    @property
    def generated(self) -> str:
        """What was decoded after the forced start so far."""
        return "".join(self._decoded)

    @property
    def text(self) -> str:
        """The reply so far: the forced start, then what was decoded after it."""
        return self.plan.prefix + self.generated

    def pieces(self) -> Iterator[str]:
        """The decoded text pieces after the forced start, as they come; the same iterator on
        every call, so what one consumer took is not decoded again. Calls the model now (the
        user's memory is loaded under the same lock as decoding, so threads serving different
        users cannot mix them up)."""
        if self._pieces is None:
            plan = self.plan
            if plan.complete:  # the forced call is already whole: nothing to decode
                self._pieces = iter(())
            else:
                stream = self._lm().stream(
                    plan.messages,
                    **self.params,
                    prefix=plan.prefix,
                    stop=plan.stop,
                    user_id=self.user_id,
                )
                self._pieces = _recorded(stream, self._decoded)
        return self._pieces

    def whole(self) -> str:
        """The whole reply: what is left of it is decoded now."""
        for _ in self.pieces():
            pass
        return self.text

    def parsed(self) -> ParsedReply:
        """The whole reply's content and the calls of the tools offered (valid and not)."""
        return parse_tool_calls(self.text, self.tools)

    def usage(self) -> tuple[int, int]:
        """(prompt tokens, reply tokens), the forced start counted in the prompt."""
        lm = self._lm()
        prefix = self.plan.prefix
        prompt = lm.count_tokens(self.plan.messages) + (
            len(lm.tokenizer.encode(prefix, add_special_tokens=False)) if prefix else 0
        )
        text = self.generated
        return prompt, len(lm.tokenizer.encode(text, add_special_tokens=False)) if text else 0

    def finish_reason(self, reply_tokens: int) -> str:
        """ "length" when the reply ran to its token limit, else "stop"."""
        return "length" if reply_tokens >= self.params["max_new_tokens"] else "stop"


def _recorded(stream: Iterator[str], into: list[str]) -> Iterator[str]:
    """`stream`'s pieces, each kept in `into` as it passes. It holds no reference to the turn:
    a consumer that stops and drops the turn closes the decoding at once (freeing the model's
    lock), with no reference cycle left for the garbage collector to break later."""
    for piece in stream:
        into.append(piece)
        yield piece
