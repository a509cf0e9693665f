"""Triton N-gram hashing, bit-identical to `ngram_hash_reference`.

Id 0 is skipped when N-grams are formed, so the last N keyed ids ending at a position can lie any
distance back. One program per sequence first compacts the keyed stream (a prefix sum per block);
after that every position's N-gram is a fixed-width gather, so hashing runs fully in parallel and
can be fused into the table gather (`lookup_triton`).
"""

from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch import Tensor

from engram_kernels.ngram_hash import FINGERPRINT_MOD, HashConfig

BLOCK_T = 64
_SCAN_BLOCK = 1024
_FP_MOD = tl.constexpr(FINGERPRINT_MOD)
_PAD = tl.constexpr(0x7FFFFFFFFFFFFFFF)


@triton.jit
def _compact_kernel(
    ids_ptr, hist_ptr, compact_ptr, rank_ptr, T, HIST: tl.constexpr, BLOCK: tl.constexpr
):
    """compact[b] = keyed ids of [history, ids] in order; rank[b, t] = keyed ids up to t, - 1."""
    b = tl.program_id(0)
    length = T + HIST
    base = tl.zeros((), tl.int32)
    for start in range(0, length, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        in_hist = offs < HIST
        in_ids = (offs >= HIST) & (offs < length)
        x = tl.load(hist_ptr + b * HIST + offs, mask=in_hist, other=0)
        x += tl.load(ids_ptr + b * T + offs - HIST, mask=in_ids, other=0)
        keyed = (x != 0).to(tl.int32)
        rank = base + tl.cumsum(keyed, 0) - 1
        tl.store(compact_ptr + b * length + rank, x, mask=keyed != 0)
        tl.store(rank_ptr + b * T + offs - HIST, rank, mask=in_ids)
        base += tl.sum(keyed, 0)


@triton.jit
def _pymod(x, m):
    """Python-style (floored) modulo, as torch's `%`; Triton's `%` truncates like C."""
    r = x % m
    return tl.where(r < 0, r + m, r)


@triton.jit
def block_hash(
    ids_ptr, compact_ptr, rank_ptr, orders_ptr, mult_ptr, fp_mult_ptr, T,
    HIST: tl.constexpr, MAX_ORDER_P2: tl.constexpr, UNORDERED: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """This program's block, on a (sequence b, block of positions, order o) grid: (b, o, its
    positions t, t_mask, hash, fingerprint) of the order-o N-gram ending at each t."""
    b, o = tl.program_id(0), tl.program_id(2)
    t = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    t_mask = t < T
    n = tl.load(orders_ptr + o)
    keyed = tl.load(ids_ptr + b * T + t, mask=t_mask, other=0) != 0
    rank = tl.load(rank_ptr + b * T + t, mask=t_mask, other=0)
    cols = tl.arange(0, MAX_ORDER_P2)
    used = cols < n
    pos = tl.maximum(rank[:, None] - (n - 1) + cols[None, :], 0)  # oldest first, as the reference
    grams = tl.load(
        compact_ptr + b * (T + HIST) + pos, mask=t_mask[:, None] & used[None, :], other=0
    )
    if UNORDERED:
        grams = tl.sort(tl.where(used[None, :], grams, _PAD), 1)  # unused slots sort last
    mult = tl.load(mult_ptr + cols, mask=used, other=0)  # 0 drops unused slots from the XOR
    fp_mult = tl.load(fp_mult_ptr + cols, mask=used, other=0)
    h = tl.xor_sum(grams * mult[None, :], 1)
    fp = _pymod(tl.xor_sum(grams * fp_mult[None, :], 1), _FP_MOD) + 1
    return b, o, t, t_mask, h, tl.where(keyed & (rank >= n - 1), fp, 0)


@triton.jit
def head_row(h, sizes_ptr, offsets_ptr, head):
    """Flat-table row of one head: hash mod the head's prime size, plus its offset."""
    return _pymod(h, tl.load(sizes_ptr + head)) + tl.load(offsets_ptr + head)


@triton.jit
def _ngram_hash_kernel(
    ids_ptr, compact_ptr, rank_ptr, orders_ptr, mult_ptr, fp_mult_ptr, sizes_ptr, offsets_ptr,
    rows_ptr, fps_ptr, T, K, N_ORDERS,
    HIST: tl.constexpr, MAX_ORDER_P2: tl.constexpr, UNORDERED: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    b, o, t, t_mask, h, fp = block_hash(
        ids_ptr, compact_ptr, rank_ptr, orders_ptr, mult_ptr, fp_mult_ptr, T,
        HIST, MAX_ORDER_P2, UNORDERED, BLOCK,
    )  # fmt: skip
    pos = b * T + t
    tl.store(fps_ptr + pos * N_ORDERS + o, fp, mask=t_mask)
    for j in range(K):
        row = head_row(h, sizes_ptr, offsets_ptr, o * K + j)
        tl.store(rows_ptr + pos * (N_ORDERS * K) + o * K + j, row, mask=t_mask)


@dataclass(frozen=True)
class HashPlan:
    """Kernel arguments shared by the hash and the fused hash+gather kernels."""

    ids: Tensor
    compact: Tensor
    rank: Tensor
    orders: Tensor
    multipliers: Tensor
    fingerprint_multipliers: Tensor
    head_sizes: Tensor
    head_offsets: Tensor
    hist: int
    max_order_p2: int
    unordered: bool

    @property
    def heads_per_order(self) -> int:
        return self.head_sizes.shape[1]

    @property
    def n_orders(self) -> int:
        return self.orders.numel()

    def grid(self, block: int) -> tuple[int, int, int]:
        bsz, t = self.ids.shape
        return bsz, triton.cdiv(t, block), self.n_orders

    def args(self) -> tuple[Tensor, ...]:
        """The kernels' leading pointer arguments, in their order."""
        return (
            self.ids, self.compact, self.rank, self.orders, self.multipliers,
            self.fingerprint_multipliers, self.head_sizes, self.head_offsets,
        )  # fmt: skip

    def meta(self) -> dict[str, int | bool]:
        return {"HIST": self.hist, "MAX_ORDER_P2": self.max_order_p2, "UNORDERED": self.unordered}


def plan_hash(ids: Tensor, history: Tensor, hashing: HashConfig) -> HashPlan:
    """Validate the ids (HashConfig checked the rest) and run the compaction scan."""
    if ids.dim() != 2 or history.dim() != 2 or history.shape[0] != ids.shape[0]:
        raise ValueError(f"ids must be [B, T] and history [B, h]; got {ids.shape}, {history.shape}")
    ids = ids.long().contiguous()
    history = history.long().contiguous()
    bsz, t = ids.shape
    hist = history.shape[1]
    compact = torch.zeros(bsz, hist + t, dtype=torch.long, device=ids.device)
    rank = torch.empty(bsz, t, dtype=torch.int32, device=ids.device)
    if bsz and t:
        _compact_kernel[(bsz,)](ids, history, compact, rank, t, HIST=hist, BLOCK=_SCAN_BLOCK)
    return HashPlan(
        ids=ids,
        compact=compact,
        rank=rank,
        orders=torch.tensor(hashing.orders, dtype=torch.int32, device=ids.device),
        multipliers=hashing.multipliers.long().contiguous(),
        fingerprint_multipliers=hashing.fingerprint_multipliers.long().contiguous(),
        head_sizes=hashing.head_sizes.long().contiguous(),
        head_offsets=hashing.head_offsets.long().contiguous(),
        hist=hist,
        max_order_p2=triton.next_power_of_2(hashing.max_order),
        unordered=hashing.unordered,
    )


def ngram_hash_triton(ids: Tensor, history: Tensor, hashing: HashConfig) -> tuple[Tensor, Tensor]:
    """Same contract as `ngram_hash_reference`."""
    plan = plan_hash(ids, history, hashing)
    bsz, t = plan.ids.shape
    k = plan.heads_per_order
    rows = torch.empty(bsz, t, plan.n_orders * k, dtype=torch.long, device=ids.device)
    fps = torch.empty(bsz, t, plan.n_orders, dtype=torch.long, device=ids.device)
    if rows.numel():
        _ngram_hash_kernel[plan.grid(BLOCK_T)](
            *plan.args(), rows, fps, t, k, plan.n_orders, **plan.meta(), BLOCK=BLOCK_T
        )
    return rows, fps
