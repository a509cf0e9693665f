"""Long turns as passages. An encoder reads a fixed window of tokens (256 for MiniLM) and drops
the rest, so a fact in the middle of a 5,000-character answer never reaches the turn's vector.
A turn longer than the window is cut into passages of at most `passage_tokens` tokens, each
with its own vector and its character span in the turn (the evidence pointer); recall scores
the turn by its best passage and still returns the whole turn. Turns within the window get no
passages: their vector and ranking are exactly what they were without chunking.

The first passage is the window the turn's own vector reads, so it costs no encoding; later
passages start at a line or sentence break where one is near."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engram_agents.store.encoders import Encoder, encode_checked


@dataclass
class Passages:
    """A turn's passages: `spans[i]` is (start, end) in characters of the turn's text."""

    spans: np.ndarray  # (n, 2) int64
    vectors: np.ndarray  # (n, dim) float32, L2-normalized

    @staticmethod
    def none(dim: int) -> Passages:
        return Passages(np.zeros((0, 2), dtype=np.int64), np.zeros((0, dim), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.spans)

    @staticmethod
    def turn_similarity(
        own: np.ndarray, has: np.ndarray, best: np.ndarray, vectors: np.ndarray, mode: str
    ) -> np.ndarray:
        """The similarity of the turns `has` (indices into `own`, the candidates' own cosines)
        whose best passage reaches `best` (that passage's vector in `vectors`).

        "max": the best passage as it is. Boilerplate that many long answers repeat (the same
        generic advice padding each) then lifts every one of them as if each alone resembled
        the query, and they crowd out the short turn that is the evidence.
        "shared": what a long turn reaches above the query's median similarity over the
        candidates is shared with every other long turn whose best passage is closer to its own
        best passage than that is to the query: n near-copies are lifted by a 1/n share each, a
        passage no other turn repeats counts fully, and a turn at or below the median keeps its
        score. No constant: the median and the closeness are measured on this query."""
        turn = np.maximum(own[has], best)
        if mode == "max":
            return turn
        base = float(np.median(own))
        raised = np.flatnonzero(turn > base)
        near = vectors[raised] @ vectors[raised].T
        np.fill_diagonal(near, -np.inf)
        shared = (near >= best[raised][:, None]).sum(axis=1)
        turn[raised] = base + (turn[raised] - base) / (1.0 + shared)
        return turn


def encoder_window(encoder: Encoder) -> int | None:
    """Content tokens the encoder reads, if it says (`max_tokens` and `token_spans`)."""
    if not hasattr(encoder, "token_spans"):
        return None
    return getattr(encoder, "max_tokens", None)


def _starts_here(text: str, prev_end: int, start: int) -> bool:
    """A token at `start` (the one before it ends at `prev_end`) begins a line or follows a
    sentence end, not the dot of a numbered step ("3.")."""
    if "\n" in text[prev_end:start]:
        return True
    before = text[max(start - 8, 0) : start].rstrip()
    return before[-1:] in (".", "!", "?", ";", ":") and not before[-2:-1].isdigit()


def _break_before(text: str, tokens: np.ndarray, lo: int, hi: int) -> int:
    """The last token position in (lo, hi] that starts a line or follows a sentence end, else
    `hi`: passages begin where a reader would."""
    for t in range(hi, max(lo, 0), -1):
        if t >= len(tokens):
            continue
        if _starts_here(text, tokens[t - 1][1], tokens[t][0]):
            return t
    return hi


def plan_spans(text: str, tokens: np.ndarray, window: int, cap: int) -> list[tuple[int, int]]:
    """Passage spans of a turn whose `tokens` ((n, 2) character offsets) overflow `window`:
    first the window itself, then passages of at most `cap` tokens that overlap the previous
    one by at most a quarter, beginning at a break."""
    n = len(tokens)
    if n <= window or cap <= 0:
        return []
    spans = [(0, int(tokens[window - 1][1]))]
    t = _break_before(text, tokens, window - cap // 4, window)
    while t < n:
        stop = min(t + cap, n)
        if stop < n:
            stop = _break_before(text, tokens, t + cap // 2, stop)
        spans.append((int(tokens[t][0]), int(tokens[stop - 1][1])))
        t = stop
    return spans


def encode_turns(
    encoder: Encoder, texts: list[str], passage_tokens: int
) -> tuple[np.ndarray, list[Passages]]:
    """Each text's vector (as `encode_checked`) and its passages. Passages are encoded in a call
    of their own, so the turns' vectors are the ones they get without chunking (a batch-wise
    quantized encoder moves a vector with the texts beside it)."""
    vectors = encode_checked(encoder, texts)
    window = encoder_window(encoder)
    out = [Passages.none(encoder.dim) for _ in texts]
    if window is None or passage_tokens <= 0:
        return vectors, out
    long = [i for i, t in enumerate(texts) if len(t) > window]  # a token holds >= 1 character
    if not long:
        return vectors, out
    cap = min(passage_tokens, window)  # a passage the encoder reads whole
    plans = {}
    for i, tokens in zip(long, encoder.token_spans([texts[i] for i in long]), strict=True):
        spans = plan_spans(texts[i], np.asarray(tokens).reshape(-1, 2), window, cap)
        if spans:
            plans[i] = spans
    rest = [texts[i][s:e] for i, spans in plans.items() for s, e in spans[1:]]
    encoded = iter(encode_checked(encoder, rest))
    for i, spans in plans.items():
        rows = [vectors[i]] + [next(encoded) for _ in spans[1:]]
        out[i] = Passages(np.asarray(spans, dtype=np.int64), np.stack(rows).astype(np.float32))
    return vectors, out
