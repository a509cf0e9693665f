"""Tokenizer compression: map token ids to canonical ids so surface variants share table rows.

NFKC, lower-case, whitespace folded and a light stem (plural -s, -ing, -ed): " Dentist" and
" dentists" become one canonical id, and so do " deploying", " deployed" and " deploy". Stop
words, punctuation and special tokens map to 0 (not keyed): they are skipped when N-grams are
formed, so memory is addressed by content words and never written for N-grams that appear in
every prompt.
"""

import re
import unicodedata

import torch
from torch import Tensor

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just let me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t don ll re ve d m o y also again ever still yet shall may might must need ok okay yes hi
    hey hello please thanks thank tell know remember remind recall say said think again
    anything something everything someone whats what's im i'm""".split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def canonical_form(text: str) -> str:
    """The canonical key of one token's text, or "" when the token is not keyed."""
    s = unicodedata.normalize("NFKC", text).lower().strip()
    if not _WORD.search(s):
        return ""
    s = "".join(_WORD.findall(s))
    if s in STOP_WORDS:
        return ""
    if not s.isalpha():
        return s
    if len(s) > 3 and s.endswith("s") and not s.endswith("ss"):
        s = s[:-1]
    for suffix in ("ing", "ed"):
        if s.endswith(suffix) and len(s) - len(suffix) >= 4:
            return s[: -len(suffix)]
    return s


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
