"""Recall's dense stage on a GPU: a scope's vectors kept on the device in fp16 and ranked by
`engram_kernels.masked_topk` under the recall's mask (its Triton kernel on CUDA).

The ranker scans every vector of a scope only in large scopes (above
`StoreConfig.full_scan_below`, to widen the stage-1 candidates or for an exact dense floor),
so only those scopes get a device copy. On a CPU numpy's matrix-vector product is as fast as
the kernel (both are memory-bound), so the CPU path stays numpy. torch is imported only when
a device is asked for, so a CPU-only store never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engram_agents.store.config import SearchDevice
from engram_agents.store.errors import InvalidInputError

if TYPE_CHECKING:
    import torch

    from engram_kernels import TopK


def resolve(setting: SearchDevice) -> torch.device | None:
    """The device recall's dense stage runs on: None for numpy on the CPU. "auto" takes CUDA
    where torch sees it; "cuda" refuses to open a store without it, so a deployment that
    counts on the GPU does not silently scan on the CPU."""
    if setting == "cpu":
        return None
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if setting == "cuda":
        raise InvalidInputError(
            "StoreConfig.search_device='cuda' but torch finds no CUDA device: "
            "use 'auto' (CUDA when present) or 'cpu'"
        )
    return None


class DeviceVectors:
    """A device copy of a `ScopeIndex`'s vector rows, in fp16 (what the kernel reads).

    The index's rows are append-only (an update removes the old row and appends the new one;
    a removal only clears `alive`), so the copy catches up by uploading the rows added since
    the last search, and the recall's mask drops removed ones. A rebuilt index starts a new
    copy, so nothing stale outlives a rebuild."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.rows: torch.Tensor | None = None  # [capacity, dim] float16
        self.synced = 0

    def sync(self, vectors: np.ndarray, size: int) -> torch.Tensor:
        """The first `size` (> 0) rows of `vectors` on the device (capacity doubles, as the
        index's does)."""
        import torch

        if self.synced < size:
            if self.rows is None or size > len(self.rows):
                cap = max(size, 2 * (0 if self.rows is None else len(self.rows)), 64)
                grown = torch.empty(cap, vectors.shape[1], dtype=torch.float16, device=self.device)
                if self.rows is not None:
                    grown[: self.synced] = self.rows[: self.synced]
                self.rows = grown
            fresh = torch.from_numpy(np.ascontiguousarray(vectors[self.synced : size]))
            self.rows[self.synced : size] = fresh.to(self.device, torch.float16)
            self.synced = size
        return self.rows[:size]

    def top(self, query: np.ndarray, vectors: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
        """Positions of the (up to) `n` rows under `keep` most similar to `query`, as
        `ScopeIndex.dense_top` (unordered; fp16 rounding may swap near-ties at the n-th)."""
        import torch

        size = len(keep)
        if n <= 0 or not size:
            return np.zeros(0, dtype=np.int64)
        rows = self.sync(vectors, size)
        q = torch.from_numpy(np.asarray(query, dtype=np.float32)[None]).to(self.device)
        mask = torch.from_numpy(np.ascontiguousarray(keep, dtype=bool)).to(self.device)
        ids = masked_topk(q, rows, mask, n).ids[0]
        return ids[ids >= 0].cpu().numpy()


def masked_topk(
    queries: torch.Tensor, vectors: torch.Tensor, candidates: torch.Tensor, k: int
) -> TopK:
    """`engram_kernels.masked_topk`, imported on first use (tests swap in the Triton kernel to
    run it under the interpreter on CPU tensors)."""
    from engram_kernels import masked_topk as op

    return op(queries, vectors, candidates, k)
