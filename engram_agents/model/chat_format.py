"""Chat messages -> token ids, plus the mask of tokens Engram memory is keyed on.

Only the content of user turns is keyed: the system prompt, template tokens and the assistant's
side never address memory. Each message is rendered with a placeholder, and the pieces between
placeholders are tokenized apart, so the mask is exact for any chat template.

A message's content may also be a list of parts, `{"text": ..., "keyed": False}` marking text
that sits in the user's turn without being what the user said: it is read by the model but
never addresses memory. `{"text": ..., "recalled": True}` marks memories retrieved into the
prompt (in any message): unkeyed too, and left out of the prompt that contrastive decoding
weighs the reply against (`encode(..., recalled=False)`).
"""

import re
from collections.abc import Sequence

from engram_agents.errors import InvalidInputError

ROLES = ("system", "user", "assistant", "tool")
FALLBACK_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] | capitalize }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


Part = tuple[str, bool, bool]  # (text, keyed, recalled)


def _parts(i: int, content) -> list[Part]:
    """A message's content as (text, keyed, recalled) parts: a string, or a list of strings
    and {"text", "keyed", "recalled"} dicts."""
    if isinstance(content, str):
        return [(content, True, False)]
    if isinstance(content, list) and content:
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append((part, True, False))
            elif (
                isinstance(part, dict)
                and isinstance(part.get("text"), str)
                and isinstance(part.get("keyed", True), bool)
                and isinstance(part.get("recalled", False), bool)
            ):
                recalled = part.get("recalled", False)
                parts.append((part["text"], part.get("keyed", True) and not recalled, recalled))
            else:
                raise InvalidInputError(
                    f"message {i}: a content part must be a string or {{'text': str, 'keyed': "
                    f"bool, 'recalled': bool}}, got {part!r}"
                )
        return parts
    raise InvalidInputError(
        f"message {i}: content must be a string or a list of parts, got {content!r}"
    )


def normalize_messages(messages) -> list[dict]:
    """Accept [{"role", "content"}], [(role, content)] or a single user string; each message
    comes back as {"role", "parts": [(text, keyed, recalled), ...]}."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not isinstance(messages, Sequence) or not messages:
        raise InvalidInputError("messages must be a non-empty list of {role, content} items")
    out = []
    for i, m in enumerate(messages):
        role, content = (m.get("role"), m.get("content")) if isinstance(m, dict) else m
        if role not in ROLES:
            raise InvalidInputError(f"message {i}: role must be one of {ROLES}, got {role!r}")
        out.append({"role": role, "parts": _parts(i, content)})
    return out


class ChatEncoder:
    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.template = tokenizer.chat_template or FALLBACK_TEMPLATE

    def encode(
        self, messages, add_generation_prompt: bool = True, recalled: bool = True
    ) -> tuple[list[int], list[int]]:
        """(ids, key_mask) for a conversation; key_mask is 1 on user-content tokens (minus the
        parts marked unkeyed or recalled). `recalled=False` leaves the recalled parts out."""
        msgs = normalize_messages(messages)
        marks = [f"\u2063ENGRAM{i}\u2063" for i in range(len(msgs))]
        rendered = self.tokenizer.apply_chat_template(
            [{"role": m["role"], "content": mark} for m, mark in zip(msgs, marks, strict=True)],
            chat_template=self.template,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )
        ids: list[int] = []
        mask: list[int] = []
        parts = re.split("(\u2063ENGRAM\\d+\u2063)", rendered)
        for part in parts:
            m = re.fullmatch("\u2063ENGRAM(\\d+)\u2063", part)
            msg = msgs[int(m.group(1))] if m else None
            for text, keyed, memory in msg["parts"] if msg else [(part, False, False)]:
                if not text or (memory and not recalled):
                    continue
                piece = self.tokenizer.encode(text, add_special_tokens=False)
                ids += piece
                mask += [int(keyed and msg["role"] == "user")] * len(piece)
        return ids, mask

    def stop_token_ids(self) -> set[int]:
        tok = self.tokenizer
        ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
        for t in ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<end_of_turn>"):
            i = tok.convert_tokens_to_ids(t)
            if isinstance(i, int) and i != tok.unk_token_id and i >= 0:
                ids.add(i)
        return ids
