"""Tokenizer compression: map token ids to canonical ids so surface variants share table rows.

NFKC, lower-case, whitespace folded and a light stem (`engram_agents.text.light_stem`):
" Dentist" and " dentists" become one canonical id, and so do " deploying", " deployed" and
" deploy". Stop words (`engram_agents.text.KEY_STOP_WORDS`), punctuation and special tokens map
to 0 (not keyed): they are skipped when N-grams are formed, so memory is addressed by content
words and never written for N-grams that appear in every prompt.
"""

import re
import unicodedata

import torch
from torch import Tensor

from engram_agents.text import KEY_STOP_WORDS, light_stem

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def canonical_form(text: str) -> str:
    """The canonical key of one token's text, or "" when the token is not keyed."""
    s = unicodedata.normalize("NFKC", text).lower().strip()
    if not _WORD.search(s):
        return ""
    s = "".join(_WORD.findall(s))
    if s in KEY_STOP_WORDS:
        return ""
    return light_stem(s) if s.isalpha() else s


def content_words(text: str) -> list[str]:
    """Canonical content words of a text (what an Engram N-gram can be made of)."""
    return [w for w in (canonical_form(t) for t in _WORD.findall(text)) if w]


class TokenCompressor:
    """Token id -> canonical id (1..N; 0 = not keyed), built once from the vocabulary."""

    def __init__(self, tokenizer) -> None:
        vocab_size = max(len(tokenizer), getattr(tokenizer, "vocab_size", 0) or 0)
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        special |= set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
        ids: dict[str, int] = {}
        table = torch.zeros(vocab_size, dtype=torch.long)
        first_rank: dict[int, int] = {}
        pieces = tokenizer.batch_decode([[i] for i in range(vocab_size)])
        for tok_id, piece in enumerate(pieces):
            if tok_id in special:
                continue
            key = canonical_form(piece)
            if key:
                table[tok_id] = canon = ids.setdefault(key, len(ids) + 1)
                first_rank.setdefault(canon, tok_id)
        self.table = table
        self.num_canonical = len(ids)
        # BPE vocabularies are built in merge order, so a low id means a frequent piece: the
        # rank of a canonical id (its lowest token id over the vocabulary size) stands in for
        # corpus frequency when deciding what is rare enough to be a memory key on its own.
        rank = torch.ones(len(ids) + 1)
        for canon, tok_id in first_rank.items():
            rank[canon] = tok_id / vocab_size
        self.rank = rank

    def __call__(self, input_ids: Tensor) -> Tensor:
        table = self.table.to(input_ids.device)
        return table[input_ids.clamp(0, len(table) - 1)]
