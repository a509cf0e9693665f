"""Suffix N-gram hashing of compressed ids: multiplicative-XOR, K prime-sized heads per order.

Id 0 means "not keyed" (stop word, punctuation, template token, padding): such positions get no
lookup and are skipped when N-grams are formed, so an N-gram is the last N keyed tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
from torch import Tensor

FINGERPRINT_MOD = (1 << 31) - 1


@dataclass(frozen=True, eq=False)
class HashConfig:
    """How suffix N-grams become table rows, fixed for an Engram model: every hash and fused
    hash+lookup op (reference and Triton) takes this one object instead of its seven parts.

    orders: the N-gram orders hashed, one slot each. multipliers / fingerprint_multipliers:
    [max(orders)] odd int64, for the row hash and the fingerprint. head_sizes / head_offsets:
    [len(orders), K] int64 (prime sizes, row offsets into one flat table). unordered: an N-gram
    is hashed as the sorted set of its ids (word order does not matter).
    """

    orders: tuple[int, ...]
    multipliers: Tensor
    fingerprint_multipliers: Tensor
    head_sizes: Tensor
    head_offsets: Tensor
    unordered: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "orders", tuple(int(n) for n in self.orders))
        if not self.orders or min(self.orders) < 1:
            raise ValueError(f"orders must be positive N-gram orders, got {self.orders}")
        sizes, offsets = self.head_sizes, self.head_offsets
        if sizes.dim() != 2 or sizes.shape != offsets.shape or sizes.shape[0] != len(self.orders):
            raise ValueError("head_sizes and head_offsets must both be [len(orders), K]")
        if min(self.multipliers.numel(), self.fingerprint_multipliers.numel()) < max(self.orders):
            raise ValueError("multipliers must hold max(orders) entries")

    @property
    def max_order(self) -> int:
        return max(self.orders)

    @property
    def heads_per_order(self) -> int:
        return self.head_sizes.shape[1]

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return self.multipliers, self.fingerprint_multipliers, self.head_sizes, self.head_offsets

    def to(self, device: torch.device | str) -> HashConfig:
        """The same hashing with its tensors on `device`."""
        moved = [t.to(device) for t in self.tensors]
        return replace(
            self,
            multipliers=moved[0],
            fingerprint_multipliers=moved[1],
            head_sizes=moved[2],
            head_offsets=moved[3],
        )


class NGramKeys(NamedTuple):
    """What the N-gram hash reads (`ngram_hash(*keys)`): compressed ids [B, T], the history
    [B, h] its orders need, and the hashing. The fused hash+lookup ops take it as one object."""

    ids: Tensor
    history: Tensor
    hashing: HashConfig

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return self.ids, self.history, *self.hashing.tensors


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
    ids: Tensor, history: Tensor, hashing: HashConfig
) -> tuple[Tensor, Tensor]:
    """Hash the suffix N-grams ending at every position.

    ids: [B, T] int64 compressed ids (0 = not keyed). history: [B, max_order - 1] keyed ids that
    precede this chunk, most recent last (0 = none), which is what incremental decoding carries.

    Returns rows [B, T, len(orders) * K] (flat-table row per head) and fingerprints
    [B, T, len(orders)] in 1..2^31-1, or 0 where the position has no N-gram of that order.
    """
    bsz, t = ids.shape
    compact, rank, keyed = _compact(ids, history)
    rows, fps = [], []
    for o, n in enumerate(hashing.orders):
        pos = rank.unsqueeze(-1) - torch.arange(n - 1, -1, -1, device=ids.device)  # oldest first
        valid = keyed & (rank >= n - 1)
        grams = compact.gather(1, pos.clamp(min=0).view(bsz, -1)).view(bsz, t, n)
        if hashing.unordered:
            grams = grams.sort(dim=-1).values
        h = _mix(grams, hashing.multipliers)
        fp = _mix(grams, hashing.fingerprint_multipliers) % FINGERPRINT_MOD + 1
        fps.append(torch.where(valid, fp, 0))
        rows.append(h.unsqueeze(-1) % hashing.head_sizes[o] + hashing.head_offsets[o])
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
