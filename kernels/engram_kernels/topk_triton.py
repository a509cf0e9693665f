"""Triton masked top-k: each program scores a block of candidates for a block of queries and keeps
only its block's top k, so memory holds Q x blocks x k partial results instead of a Q x N matrix.

A score and its id travel together as one int64 whose order is the score's order: the float's
bits made monotone in the high word, the id in the low word. A single integer top-k then selects
both, inside the kernel (`tl.topk`) and in the final merge (`torch.topk`).
"""

import torch
import triton
import triton.language as tl
from torch import Tensor

from engram_kernels.topk import TopK, check_candidates, check_topk_inputs

_EMPTY = -(2**63)  # sorts below every real score
_EMPTY_C = tl.constexpr(_EMPTY)
_MAX_K = 1024


@triton.jit
def _topk_kernel(
    q_ptr, v_ptr, cand_ptr, part_ptr, Q, N, C, D, N_BLOCKS,
    IDS: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    K: tl.constexpr,
):  # fmt: skip
    qs = tl.program_id(0) * BLOCK_Q + tl.arange(0, BLOCK_Q)
    q_mask = qs < Q
    c = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    if IDS:
        c_mask = c < C
        idx = tl.load(cand_ptr + c, mask=c_mask, other=0)
    else:  # bool mask over all N vectors: masked-off rows are never read
        c_mask = tl.load(cand_ptr + c, mask=c < N, other=0) != 0
        idx = c.to(tl.int64)
    acc = tl.zeros((BLOCK_Q, BLOCK_N), tl.float32)
    for d0 in range(0, D, BLOCK_D):
        d = d0 + tl.arange(0, BLOCK_D)
        d_mask = d < D
        q = tl.load(q_ptr + qs[:, None] * D + d[None, :], mask=q_mask[:, None] & d_mask[None, :])
        v = tl.load(
            v_ptr + idx[None, :] * D + d[:, None], mask=c_mask[None, :] & d_mask[:, None], other=0.0
        )
        # fp16 and bf16 are exact in tf32, so this is the half-precision dot with fp32 accumulation
        acc = tl.dot(q.to(tl.float32), v.to(tl.float32), acc, input_precision="tf32")
    bits = acc.to(tl.int32, bitcast=True)
    key = bits ^ ((bits >> 31) & 0x7FFFFFFF)  # float order == signed int order
    packed = (key.to(tl.int64) << 32) | idx[None, :]
    packed = tl.where(c_mask[None, :], packed, _EMPTY_C)
    top = tl.topk(packed, K)
    out = part_ptr + (qs[:, None] * N_BLOCKS + tl.program_id(1)) * K + tl.arange(0, K)[None, :]
    tl.store(out, top, mask=q_mask[:, None])


def _unpack(packed: Tensor) -> TopK:
    key = (packed >> 32).to(torch.int32)
    bits = key ^ ((key >> 31) & 0x7FFFFFFF)
    empty = packed == _EMPTY
    scores = bits.view(torch.float32).masked_fill(empty, float("-inf"))
    return TopK(scores, (packed & 0xFFFFFFFF).masked_fill(empty, -1))


def masked_topk_triton(queries: Tensor, vectors: Tensor, candidates: Tensor, k: int) -> TopK:
    """Same contract as `masked_topk_reference`, for fp16/bf16 vectors, k <= 1024, N < 2^31."""
    check_topk_inputs(queries, vectors, k)
    if k > _MAX_K or vectors.shape[0] >= 2**31:
        raise ValueError(f"k must be <= {_MAX_K} and N < 2^31; got k={k}, N={vectors.shape[0]}")
    if vectors.dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(f"vectors must be float16 or bfloat16; got {vectors.dtype}")
    n, dim = vectors.shape
    check_candidates(candidates, n)
    use_ids = candidates.dtype != torch.bool
    cand = candidates.long() if use_ids else candidates
    k_p2 = triton.next_power_of_2(k)
    block_n = max(64, k_p2)
    n_blocks = max(1, triton.cdiv(cand.numel(), block_n))
    block_d = min(64, max(16, triton.next_power_of_2(dim)))
    q = queries.shape[0]
    part = torch.empty(q, n_blocks * k_p2, dtype=torch.long, device=vectors.device)
    if q:
        _topk_kernel[(triton.cdiv(q, 16), n_blocks)](
            queries.to(vectors.dtype).contiguous(), vectors.contiguous(), cand.contiguous(), part,
            q, n, cand.numel(), dim, n_blocks,
            IDS=use_ids, BLOCK_Q=16, BLOCK_N=block_n, BLOCK_D=block_d, K=k_p2,
        )  # fmt: skip
    return _unpack(part.topk(k, dim=1).values)
