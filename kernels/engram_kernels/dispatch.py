"""Public ops: the Triton kernel when every tensor is on CUDA and triton imports, else the PyTorch
reference, with one signature. Triton modules are imported only on first CUDA use, so
`import engram_kernels` works (and stays fast) without triton.

`reference_ops()` (or ENGRAM_KERNELS=reference in the environment) runs the references on CUDA
too: the same-run baseline that Triton outputs and speeds are compared against."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec

import torch
from torch import Tensor

from engram_kernels.gate import engram_gate_reference
from engram_kernels.lookup import engram_hash_lookup_reference, engram_lookup_reference
from engram_kernels.ngram_hash import HashConfig, ngram_hash_reference
from engram_kernels.topk import TopK, masked_topk_reference

HAS_TRITON = find_spec("triton") is not None
_reference_only = os.environ.get("ENGRAM_KERNELS", "").strip().lower() == "reference"


def use_triton(*tensors: Tensor) -> bool:
    return HAS_TRITON and not _reference_only and all(t.is_cuda for t in tensors)


def reference_forced() -> bool:
    """Whether every op runs its PyTorch reference, whatever the device."""
    return _reference_only


@contextmanager
def reference_ops() -> Iterator[None]:
    """Inside the block every op runs its PyTorch reference, on CUDA too (process-wide, not
    per thread: for benchmarks and tests, not for serving)."""
    global _reference_only
    before, _reference_only = _reference_only, True
    try:
        yield
    finally:
        _reference_only = before


def ngram_hash(ids: Tensor, history: Tensor, hashing: HashConfig) -> tuple[Tensor, Tensor]:
    impl = ngram_hash_reference
    if use_triton(ids, history, *hashing.tensors):
        from engram_kernels.hash_triton import ngram_hash_triton as impl
    return impl(ids, history, hashing)


def engram_lookup(
    table: Tensor, tags: Tensor, rows: Tensor, fingerprints: Tensor, sparse: bool = True
) -> Tensor:
    impl = engram_lookup_reference
    if use_triton(table, tags, rows, fingerprints):
        from engram_kernels.lookup_triton import engram_lookup_triton as impl
    return impl(table, tags, rows, fingerprints, sparse)


def engram_hash_lookup(
    table: Tensor,
    tags: Tensor,
    ids: Tensor,
    history: Tensor,
    hashing: HashConfig,
    sparse: bool = True,
) -> Tensor:
    """`ngram_hash` then `engram_lookup` in one pass: compressed ids [B, T] to [B, T, H * D]."""
    impl = engram_hash_lookup_reference
    if use_triton(table, tags, ids, history, *hashing.tensors):
        from engram_kernels.lookup_triton import engram_hash_lookup_triton as impl
    return impl(table, tags, ids, history, hashing, sparse)


def engram_gate(
    hidden: Tensor,
    key: Tensor,
    value: Tensor,
    key_norm_weight: Tensor,
    hidden_norm_weight: Tensor,
    bias: Tensor,
    eps: float = 1e-6,
) -> Tensor:
    """The kernel covers equal [..., d] shapes and a one-element bias; broadcasting falls back."""
    impl = engram_gate_reference
    args = (hidden, key, value, key_norm_weight, hidden_norm_weight, bias)
    d = hidden.shape[-1]
    fits = (
        hidden.shape == key.shape == value.shape
        and key_norm_weight.shape == hidden_norm_weight.shape == (d,)
        and bias.numel() == 1
    )
    if fits and use_triton(*args):
        from engram_kernels.gate_triton import engram_gate_triton as impl
    return impl(*args, eps)


def masked_topk(queries: Tensor, vectors: Tensor, candidates: Tensor, k: int) -> TopK:
    """The kernel covers fp16/bf16 vectors, k <= 1024 and N < 2^31; the rest falls back."""
    impl = masked_topk_reference
    half = vectors.dtype in (torch.float16, torch.bfloat16)
    if half and k <= 1024 and vectors.shape[0] < 2**31 and use_triton(queries, vectors, candidates):
        from engram_kernels.topk_triton import masked_topk_triton as impl
    return impl(queries, vectors, candidates, k)
