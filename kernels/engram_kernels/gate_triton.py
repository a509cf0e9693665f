"""Triton gate epilogue: both RMSNorms, the scaled dot, signed sqrt, sigmoid and the value scaling
in one pass over each row, instead of about ten elementwise kernels and their round trips.

The backward recomputes the PyTorch reference: it is cheap next to the projections around it and
keeps one source of truth for the gradient.
"""

import math
from functools import reduce

import torch
import triton
import triton.language as tl
from torch import Tensor

from engram_kernels.gate import SQRT_EPS, GateWeights, engram_gate_reference


@triton.jit
def _gate_kernel(
    h_ptr, k_ptr, v_ptr, kw_ptr, hw_ptr, bias_ptr, out_ptr, M, D,
    eps, inv_sqrt_d, shift, root_shift, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr,
):  # fmt: skip
    m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    d = tl.arange(0, BLOCK_D)
    d_mask = d < D
    mask = (m < M)[:, None] & d_mask[None, :]
    offs = m[:, None].to(tl.int64) * D + d[None, :]
    h = tl.load(h_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    k = tl.load(k_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    kw = tl.load(kw_ptr + d, mask=d_mask, other=0.0).to(tl.float32)
    hw = tl.load(hw_ptr + d, mask=d_mask, other=0.0).to(tl.float32)
    k_inv = tl.rsqrt(tl.sum(k * k, 1) / D + eps)
    h_inv = tl.rsqrt(tl.sum(h * h, 1) / D + eps)
    score = tl.sum((k * kw[None, :]) * (h * hw[None, :]), 1) * (k_inv * h_inv * inv_sqrt_d)
    sign = tl.where(score > 0, 1.0, tl.where(score < 0, -1.0, 0.0))
    root = sign * (tl.sqrt(tl.abs(score) + shift) - root_shift)
    alpha = tl.sigmoid(root + tl.load(bias_ptr).to(tl.float32))
    v = tl.load(v_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + offs, (alpha[:, None] * v).to(out_ptr.dtype.element_ty), mask=mask)


def _out_dtype(tensors: tuple[Tensor, ...]) -> torch.dtype:
    """The reference's result dtype: a 0-dim bias does not promote dimensioned float tensors."""
    return reduce(torch.promote_types, (t.dtype for t in tensors if t.dim() > 0))


class _Gate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, key, value, key_norm_weight, hidden_norm_weight, bias, eps):
        ctx.save_for_backward(hidden, key, value, key_norm_weight, hidden_norm_weight, bias)
        ctx.eps = eps
        d = hidden.shape[-1]
        inputs = (hidden, key, value, key_norm_weight, hidden_norm_weight, bias)
        out = torch.empty(value.shape, dtype=_out_dtype(inputs), device=value.device)
        rows = out.numel() // d if d else 0
        if rows:
            block_d = triton.next_power_of_2(d)
            block_m = max(1, min(16, 4096 // block_d))
            _gate_kernel[(triton.cdiv(rows, block_m),)](
                hidden.contiguous(), key.contiguous(), value.contiguous(),
                key_norm_weight.contiguous(), hidden_norm_weight.contiguous(), bias, out,
                rows, d, eps, 1.0 / math.sqrt(d), SQRT_EPS, math.sqrt(SQRT_EPS),
                BLOCK_M=block_m, BLOCK_D=block_d, num_warps=8 if block_d >= 2048 else 4,
            )  # fmt: skip
        return out

    @staticmethod
    def backward(ctx, grad_out):
        inputs = [
            t.detach().requires_grad_(need)
            for t, need in zip(ctx.saved_tensors, ctx.needs_input_grad, strict=False)
        ]
        with torch.enable_grad():
            hidden, key, value, *weights = inputs
            out = engram_gate_reference(hidden, key, value, GateWeights(*weights, ctx.eps))
        wanted = [t for t in inputs if t.requires_grad]
        grads = iter(torch.autograd.grad(out, wanted, grad_out) if wanted else ())
        return (*(next(grads) if t.requires_grad else None for t in inputs), None)


def engram_gate_triton(hidden: Tensor, key: Tensor, value: Tensor, gate: GateWeights) -> Tensor:
    """Same contract as `engram_gate_reference`, for equal [..., d] shapes and a 1-element bias."""
    if not (hidden.shape == key.shape == value.shape):
        raise ValueError(
            f"hidden, key, value must share a shape; got {hidden.shape}, {key.shape}, {value.shape}"
        )
    d = hidden.shape[-1]
    if gate.key_norm.shape != (d,) or gate.hidden_norm.shape != (d,) or gate.bias.numel() != 1:
        raise ValueError("norm weights must be [d] and bias must hold one element")
    return _Gate.apply(hidden, key, value, *gate)
