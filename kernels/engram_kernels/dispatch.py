"""Public ops: the Triton kernel when every tensor is on CUDA and triton imports, else the PyTorch
reference, with one signature. Triton modules are imported only on first CUDA use, so
`import engram_kernels` works (and stays fast) without triton.

`reference_ops()` (or ENGRAM_KERNELS=reference in the environment) runs the references on CUDA
too: the same-run baseline that Triton outputs and speeds are compared against."""

import functools
import importlib
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from typing import Any, ParamSpec, TypeVar

import torch
from torch import Tensor

from engram_kernels.gate import engram_gate_reference
from engram_kernels.lookup import engram_hash_lookup_reference, engram_lookup_reference
from engram_kernels.ngram_hash import HashConfig, NGramKeys, ngram_hash_reference
from engram_kernels.topk import masked_topk_reference

P = ParamSpec("P")
R = TypeVar("R")

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


def _dispatched(
    reference: Callable[P, R], kernel: str, fits: Callable[[dict[str, Any]], bool] | None = None
) -> Callable[P, R]:
    """The op with `reference`'s signature and contract, run by the Triton `kernel`
    ("module.function" in engram_kernels) when every tensor it gets (a HashConfig's and an
    NGramKeys' too) is on CUDA and `fits` (if given) accepts the arguments by name, else by the
    reference."""
    module, name = kernel.rsplit(".", 1)
    signature = inspect.signature(reference)

    @functools.wraps(reference)
    def op(*args: P.args, **kwargs: P.kwargs) -> R:
        given = (*args, *kwargs.values())
        tensors = [a for a in given if isinstance(a, Tensor)]
        tensors += [t for a in given if isinstance(a, HashConfig | NGramKeys) for t in a.tensors]
        if use_triton(*tensors) and (
            fits is None or fits(signature.bind(*args, **kwargs).arguments)
        ):
            impl = getattr(importlib.import_module(f"engram_kernels.{module}"), name)
            return impl(*args, **kwargs)
        return reference(*args, **kwargs)

    return op


def _gate_fits(given: dict[str, Any]) -> bool:
    """The gate kernel covers equal [..., d] shapes and a one-element bias; broadcasting falls
    back to the reference."""
    shape = given["hidden"].shape
    return (
        given["key"].shape == given["value"].shape == shape
        and given["gate"].key_norm.shape == given["gate"].hidden_norm.shape == shape[-1:]
        and given["gate"].bias.numel() == 1
    )


def _topk_fits(given: dict[str, Any]) -> bool:
    """The top-k kernel covers fp16/bf16 vectors, k <= 1024 and N < 2^31."""
    vectors = given["vectors"]
    half = vectors.dtype in (torch.float16, torch.bfloat16)
    return half and given["k"] <= 1024 and vectors.shape[0] < 2**31


ngram_hash = _dispatched(ngram_hash_reference, "hash_triton.ngram_hash_triton")
engram_lookup = _dispatched(engram_lookup_reference, "lookup_triton.engram_lookup_triton")
engram_hash_lookup = _dispatched(
    engram_hash_lookup_reference, "lookup_triton.engram_hash_lookup_triton"
)
engram_gate = _dispatched(engram_gate_reference, "gate_triton.engram_gate_triton", _gate_fits)
masked_topk = _dispatched(masked_topk_reference, "topk_triton.masked_topk_triton", _topk_fits)
