"""Triton table lookup: tag-checked multi-head gather, alone or fused with the N-gram hash.

The forward writes only the concatenated embeddings (and, when the table needs a gradient, the
hit row of every head lookup). The backward never builds a table-sized tensor: it sums the output
gradient per unique hit row and returns a coalesced sparse COO gradient, which is what
`torch.optim.SparseAdam` consumes.
"""

from collections.abc import Callable

import torch
import triton
import triton.language as tl
from torch import Tensor

from engram_kernels.hash_triton import BLOCK_T, block_hash, head_row, plan_hash
from engram_kernels.ngram_hash import NGramKeys

Launch = Callable[[Tensor, bool], tuple[Tensor, Tensor | None]]


@triton.jit
def _gather_head(
    table_ptr, tags_ptr, out_ptr, hit_rows_ptr, row, fp, t_mask, pos, head, H, D,
    BLOCK_D: tl.constexpr, STORE_ROWS: tl.constexpr,
):  # fmt: skip
    """out[pos, head*D:(head+1)*D] = table[row] where the row's tag is fp, else exactly zero."""
    tag = tl.load(tags_ptr + row, mask=t_mask, other=0)
    hit = t_mask & (tag == fp) & (fp != 0)
    d = tl.arange(0, BLOCK_D)
    d_mask = d < D
    emb = tl.load(table_ptr + row[:, None] * D + d[None, :], mask=hit[:, None] & d_mask[None, :])
    emb = tl.where(hit[:, None], emb, 0.0)
    out = out_ptr + (pos[:, None].to(tl.int64) * H + head) * D + d[None, :]
    tl.store(out, emb.to(out_ptr.dtype.element_ty), mask=t_mask[:, None] & d_mask[None, :])
    if STORE_ROWS:
        tl.store(hit_rows_ptr + pos * H + head, tl.where(hit, row, -1), mask=t_mask)


@triton.jit
def _lookup_kernel(
    table_ptr, tags_ptr, rows_ptr, fps_ptr, out_ptr, hit_rows_ptr, P, K, N_ORDERS, D,
    BLOCK: tl.constexpr, BLOCK_D: tl.constexpr, STORE_ROWS: tl.constexpr,
):  # fmt: skip
    """One program: BLOCK positions (flattened B*T) x the K heads of one order."""
    o = tl.program_id(1)
    pos = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    t_mask = pos < P
    fp = tl.load(fps_ptr + pos * N_ORDERS + o, mask=t_mask, other=0)
    H = N_ORDERS * K
    for j in range(K):
        head = o * K + j
        row = tl.load(rows_ptr + pos * H + head, mask=t_mask, other=0)
        _gather_head(
            table_ptr, tags_ptr, out_ptr, hit_rows_ptr, row, fp, t_mask, pos, head, H, D,
            BLOCK_D, STORE_ROWS,
        )  # fmt: skip


@triton.jit
def _hash_lookup_kernel(
    ids_ptr, compact_ptr, rank_ptr, orders_ptr, mult_ptr, fp_mult_ptr, sizes_ptr, offsets_ptr,
    table_ptr, tags_ptr, out_ptr, hit_rows_ptr, T, K, N_ORDERS, D,
    HIST: tl.constexpr, MAX_ORDER_P2: tl.constexpr, UNORDERED: tl.constexpr,
    BLOCK: tl.constexpr, BLOCK_D: tl.constexpr, STORE_ROWS: tl.constexpr,
):  # fmt: skip
    """One program: BLOCK positions of a sequence x the K heads of an order; rows stay on chip."""
    b, o, t, t_mask, h, fp = block_hash(
        ids_ptr, compact_ptr, rank_ptr, orders_ptr, mult_ptr, fp_mult_ptr, T,
        HIST, MAX_ORDER_P2, UNORDERED, BLOCK,
    )  # fmt: skip
    H = N_ORDERS * K
    for j in range(K):
        head = o * K + j
        row = head_row(h, sizes_ptr, offsets_ptr, head)
        _gather_head(
            table_ptr, tags_ptr, out_ptr, hit_rows_ptr, row, fp, t_mask, b * T + t, head, H, D,
            BLOCK_D, STORE_ROWS,
        )  # fmt: skip


class _TableGather(torch.autograd.Function):
    """Autograd for a table gather: dense output, sparse (unique rows, summed values) gradient."""

    @staticmethod
    def forward(ctx, table: Tensor, launch: Launch, sparse: bool) -> Tensor:
        out, hit_rows = launch(table, table.requires_grad)
        ctx.save_for_backward(hit_rows)
        ctx.table_shape, ctx.sparse = table.shape, sparse
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor | None, None, None]:
        (hit_rows,) = ctx.saved_tensors
        dim = ctx.table_shape[1]
        rows = hit_rows.reshape(-1)
        hit = rows >= 0
        unique, inverse = torch.unique(rows[hit], return_inverse=True)
        grads = grad_out.reshape(-1, dim)[hit].float()
        values = grads.new_zeros(unique.numel(), dim).index_add_(0, inverse, grads)
        values = values.to(grad_out.dtype)
        if ctx.sparse:
            grad = torch.sparse_coo_tensor(
                unique.unsqueeze(0),
                values,
                ctx.table_shape,
                is_coalesced=True,
                check_invariants=False,
            )
        else:
            grad = values.new_zeros(ctx.table_shape).index_put_((unique,), values)
        return grad, None, None


def _check_table(table: Tensor, tags: Tensor) -> None:
    if table.dim() != 2 or tags.shape != table.shape[:1]:
        raise ValueError(f"table must be [R, D] and tags [R]; got {table.shape}, {tags.shape}")


def _outputs(table: Tensor, lookups: tuple[int, ...], store_rows: bool) -> tuple[Tensor, ...]:
    """Output [..., H*D] and, when needed, the hit row per head lookup (-1 = miss)."""
    out = torch.empty(*lookups, table.shape[1], dtype=table.dtype, device=table.device)
    if not store_rows:
        return out, out  # the kernel never touches hit_rows then; any valid pointer will do
    return out, torch.empty(lookups, dtype=torch.long, device=table.device)


def engram_lookup_triton(
    table: Tensor, tags: Tensor, rows: Tensor, fingerprints: Tensor, sparse: bool = True
) -> Tensor:
    """Same contract as `engram_lookup_reference`."""
    _check_table(table, tags)
    if rows.shape[:-1] != fingerprints.shape[:-1] or rows.shape[-1] % fingerprints.shape[-1]:
        raise ValueError(f"rows {rows.shape} do not match fingerprints {fingerprints.shape}")
    n_orders = fingerprints.shape[-1]
    k = rows.shape[-1] // n_orders
    rows_c, fps_c = rows.long().contiguous(), fingerprints.long().contiguous()
    positions = rows.numel() // rows.shape[-1] if rows.shape[-1] else 0

    def launch(tab: Tensor, store_rows: bool) -> tuple[Tensor, Tensor | None]:
        out, hit_rows = _outputs(tab, tuple(rows.shape), store_rows)
        if out.numel():
            _lookup_kernel[(triton.cdiv(positions, BLOCK_T), n_orders)](
                tab.contiguous(), tags.contiguous(), rows_c, fps_c, out, hit_rows,
                positions, k, n_orders, tab.shape[1],
                BLOCK=BLOCK_T, BLOCK_D=triton.next_power_of_2(tab.shape[1]), STORE_ROWS=store_rows,
            )  # fmt: skip
        return out.flatten(-2), hit_rows if store_rows else None

    return _TableGather.apply(table, launch, sparse)


def engram_hash_lookup_triton(
    table: Tensor, tags: Tensor, keys: NGramKeys, sparse: bool = True
) -> Tensor:
    """Same contract as `engram_hash_lookup_reference`; rows never leave the chip."""
    _check_table(table, tags)
    plan = plan_hash(*keys)
    bsz, t = plan.ids.shape
    k = plan.heads_per_order

    def launch(tab: Tensor, store_rows: bool) -> tuple[Tensor, Tensor | None]:
        out, hit_rows = _outputs(tab, (bsz, t, plan.n_orders * k), store_rows)
        if out.numel():
            _hash_lookup_kernel[plan.grid(BLOCK_T)](
                *plan.args(), tab.contiguous(), tags.contiguous(), out, hit_rows,
                t, k, plan.n_orders, tab.shape[1], **plan.meta(), BLOCK=BLOCK_T,
                BLOCK_D=triton.next_power_of_2(tab.shape[1]), STORE_ROWS=store_rows,
            )  # fmt: skip
        return out.flatten(-2), hit_rows if store_rows else None

    return _TableGather.apply(table, launch, sparse)
