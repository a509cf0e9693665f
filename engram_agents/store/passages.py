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

from engram_agents.store.encoders import Encoder, encode_checked, normalized_checked
from engram_agents.store.static_vectors import StaticVectors


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
        own: np.ndarray,
        has: np.ndarray,
        best: np.ndarray,
        vectors: np.ndarray,
        mode: str,
        reach: np.ndarray | None = None,
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
        score. No constant: the median and the closeness are measured on this query.
        `reach`: each best passage's cosine to the query in the passages' own space, when
        `best` is not (static passages); the closeness is compared with it."""
        turn = np.maximum(own[has], best)
        if mode == "max":
            return turn
        base = float(np.median(own))
        raised = np.flatnonzero(turn > base)
        near = vectors[raised] @ vectors[raised].T
        np.fill_diagonal(near, -np.inf)
        shared = (near >= (best if reach is None else reach)[raised][:, None]).sum(axis=1)
        turn[raised] = base + (turn[raised] - base) / (1.0 + shared)
        return turn

    @staticmethod
    def static_gain(
        own: np.ndarray, static: np.ndarray, window: np.ndarray, best: np.ndarray
    ) -> np.ndarray:
        """What static passages add to long turns: how far each best passage's static cosine
        rises above its window's, scaled from the static space to the own one by the ratio of
        the spreads of the candidates' `own` cosines and of all their passages' `static`
        ones (both how this query's similarity varies over this store's text), so it is
        measured on this query, with no constant."""
        spread = float(static.std()) if static.size > 1 else 0.0
        scale = float(own.std()) / spread if spread > 0 and own.size > 1 else 1.0
        return scale * (best - window)


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


def plan_pieces(text: str, tokens: np.ndarray, window: int, cap: int) -> list[tuple[int, int]]:
    """Passage token ranges [start, stop) of a turn whose `tokens` ((n, 2) character offsets)
    overflow `window`: first the window itself, then passages of at most `cap` tokens that
    overlap the previous one by at most a quarter, beginning at a break."""
    n = len(tokens)
    if n <= window or cap <= 0:
        return []
    pieces = [(0, window)]
    t = _break_before(text, tokens, window - cap // 4, window)
    while t < n:
        stop = min(t + cap, n)
        if stop < n:
            stop = _break_before(text, tokens, t + cap // 2, stop)
        pieces.append((t, stop))
        t = stop
    return pieces


def plan_spans(text: str, tokens: np.ndarray, window: int, cap: int) -> list[tuple[int, int]]:
    """The character spans of `plan_pieces`."""
    return [
        (int(tokens[a][0]), int(tokens[b - 1][1]))
        for a, b in plan_pieces(text, tokens, window, cap)
    ]


def encode_turns(
    encoder: Encoder,
    texts: list[str],
    passage_tokens: int,
    static: StaticVectors | None = None,
    long_turn_tokens: int = 0,
) -> tuple[np.ndarray, list[Passages]]:
    """Each text's vector (as `encode_checked`) and its passages. Passages are encoded in a call
    of their own, so the turns' vectors are the ones they get without chunking (a batch-wise
    quantized encoder moves a vector with the texts beside it). An encoder that can `tokenize`
    and `encode_ids` tokenizes each text once for all three; with `static` its passages, the
    window included, are static vectors (then the first is not the turn's own vector); with
    `long_turn_tokens` a turn over the window is read by its own vector that far only (the
    first passage is that shorter window)."""
    window = encoder_window(encoder)
    if window is None or passage_tokens <= 0:
        return encode_checked(encoder, texts), [Passages.none(encoder.dim) for _ in texts]
    cap = min(passage_tokens, window)  # a passage the encoder reads whole
    if hasattr(encoder, "tokenize") and hasattr(encoder, "encode_ids"):
        tokens = encoder.tokenize(texts)
        short = min(long_turn_tokens or window, window)
        reads = [short if len(t.ids) > window else window for t in tokens]
        own = [t.ids[:n] for t, n in zip(tokens, reads, strict=True)]
        vectors = _encode_ids(encoder, own, [len(t) for t in texts])  # batched as `encode` does
        plans = {}
        for i, (text, t) in enumerate(zip(texts, tokens, strict=True)):
            if len(t.ids) > window:
                plans[i] = plan_pieces(text, t.offsets, reads[i], cap)
        skip = 0 if static else 1  # the window's passage is the turn's own vector
        rest = [tokens[i].ids[a:b] for i, pieces in plans.items() for a, b in pieces[skip:]]
        encoded = static.encode_ids(rest) if static else _encode_ids(encoder, rest)
        spans = {
            i: [(tokens[i].offsets[a][0], tokens[i].offsets[b - 1][1]) for a, b in p]
            for i, p in plans.items()
        }
    else:
        vectors = encode_checked(encoder, texts)
        long = [i for i, t in enumerate(texts) if len(t) > window]  # a token is >= 1 character
        offsets = encoder.token_spans([texts[i] for i in long]) if long else []
        spans = {}
        for i, tokens in zip(long, offsets, strict=True):
            if planned := plan_spans(texts[i], np.asarray(tokens).reshape(-1, 2), window, cap):
                spans[i] = planned
        encoded = encode_checked(
            encoder, [texts[i][s:e] for i, p in spans.items() for s, e in p[1:]]
        )
    out = [Passages.none(encoder.dim) for _ in texts]
    rows = iter(encoded)
    for i, planned in spans.items():
        first = [] if static else [vectors[i]]
        vecs = first + [next(rows) for _ in planned[len(first) :]]
        out[i] = Passages(np.asarray(planned, dtype=np.int64), np.stack(vecs).astype(np.float32))
    return vectors, out


def _encode_ids(
    encoder: Encoder, pieces: list[np.ndarray], lengths: list[int] | None = None
) -> np.ndarray:
    """`encode_checked` for token-id sequences."""
    if not pieces:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return normalized_checked(encoder, encoder.encode_ids(pieces, lengths), len(pieces))
