"""Suffix N-gram hashing of compressed ids: multiplicative-XOR, K prime-sized heads per order.

Id 0 means "not keyed" (stop word, punctuation, template token, padding): such positions get no
lookup and are skipped when N-grams are formed, so an N-gram is the last N keyed tokens.
"""

from collections.abc import Sequence

import torch
from torch import Tensor

FINGERPRINT_MOD = (1 << 31) - 1


def _mix(grams: Tensor, multipliers: Tensor) -> Tensor:
    """XOR of id * multiplier over the N-gram axis (last dim)."""
    prod = grams * multipliers[: grams.shape[-1]]
    out = prod[..., 0]
    for i in range(1, grams.shape[-1]):
        out = torch.bitwise_xor(out, prod[..., i])
    return out


def _compact(ids: Tensor, history: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The keyed ids of [history, ids] in order (compact), and for each position of ids its
    index in that stream (rank) and whether it is keyed."""
    hist = history.shape[1]
    seq = torch.cat([history, ids], dim=1)
    keyed = seq != 0
    rank = keyed.long().cumsum(1) - 1  # index in the compacted keyed stream
    compact = torch.zeros_like(seq)
    compact.scatter_(1, torch.where(keyed, rank, seq.shape[1] - 1), torch.where(keyed, seq, 0))
    return compact, rank[:, hist:], keyed[:, hist:]


def ngram_hash_reference(
    ids: Tensor,
    history: Tensor,
    orders: Sequence[int],
    multipliers: Tensor,
    fingerprint_multipliers: Tensor,
    head_sizes: Tensor,
    head_offsets: Tensor,
    unordered: bool = False,
) -> tuple[Tensor, Tensor]:
    """Hash the suffix N-grams ending at every position.

    ids: [B, T] int64 compressed ids (0 = not keyed). history: [B, max_order - 1] keyed ids that
    precede this chunk, most recent last (0 = none), which is what incremental decoding carries.
    multipliers / fingerprint_multipliers: [max_order] odd int64. head_sizes / head_offsets:
    [len(orders), K] int64 (prime sizes, row offsets into one flat table).

    Returns rows [B, T, len(orders) * K] (flat-table row per head) and fingerprints
    [B, T, len(orders)] in 1..2^31-1, or 0 where the position has no N-gram of that order.
    """
    bsz, t = ids.shape
    compact, rank, keyed = _compact(ids, history)
    rows, fps = [], []
    for o, n in enumerate(orders):
        pos = rank.unsqueeze(-1) - torch.arange(n - 1, -1, -1, device=ids.device)  # oldest first
        valid = keyed & (rank >= n - 1)
        grams = compact.gather(1, pos.clamp(min=0).view(bsz, -1)).view(bsz, t, n)
        if unordered:
            grams = grams.sort(dim=-1).values
        h = _mix(grams, multipliers)
        fp = _mix(grams, fingerprint_multipliers) % FINGERPRINT_MOD + 1
        fps.append(torch.where(valid, fp, 0))
        rows.append(h.unsqueeze(-1) % head_sizes[o] + head_offsets[o])
    return torch.cat(rows, dim=-1), torch.stack(fps, dim=-1)


def skip_pair_hash(
    ids: Tensor,
    history: Tensor,
    window: int,
    multipliers: Tensor,
    fingerprint_multipliers: Tensor,
    head_sizes: Tensor,
    head_offsets: Tensor,
) -> tuple[Tensor, Tensor]:
    """Hash the unordered pair of each keyed token with each of the `window` keyed tokens
    before it, so that "tests ... Sierra" and "Sierra ... tests" share a key at any distance up
    to `window` (a reworded question keeps its content words, not their order or neighbours).

    head_sizes / head_offsets: [K], one table region shared by every distance, so a pair maps to
    the same rows wherever it occurs. Returns rows [B, T, window * K] (distance-major) and
    fingerprints [B, T, window], 0 where fewer than d keyed tokens precede. Plain PyTorch on any
    device: a few gathers per distance, small beside the lookup it feeds.
    """
    compact, rank, keyed = _compact(ids, history)
    current = compact.gather(1, rank.clamp(min=0))
    rows, fps = [], []
    for d in range(1, window + 1):
        before = compact.gather(1, (rank - d).clamp(min=0))
        pair = torch.stack([torch.minimum(current, before), torch.maximum(current, before)], -1)
        fp = _mix(pair, fingerprint_multipliers) % FINGERPRINT_MOD + 1
        fps.append(torch.where(keyed & (rank >= d), fp, 0))
        rows.append(_mix(pair, multipliers).unsqueeze(-1) % head_sizes + head_offsets)
    return torch.cat(rows, dim=-1), torch.stack(fps, dim=-1)


def next_history(ids: Tensor, history: Tensor) -> Tensor:
    """The last max_order-1 keyed ids once `ids` follows `history` (incremental decoding)."""
    width = history.shape[1]
    if width == 0:
        return history
    seq = torch.cat([history, ids], dim=1)
    keyed = seq != 0  # unkeyed ids are 0, so a short tail is left-padded with "none"
    # stable sort puts keyed ids last, in order; the tail is the most recent keyed ids
    order = torch.sort(keyed.to(torch.int8), dim=1, stable=True).indices
    return seq.gather(1, order)[:, -width:]
