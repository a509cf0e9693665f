"""Engram tables in (pinned) host memory, staged to the GPU ahead of use.

A layer's rows are known from the token ids before the layer runs, so a table too large for the
GPU can stay in host memory: `prefetch` gathers the unique rows a forward needs into a compact
table and copies it on a side CUDA stream while earlier blocks compute; `lookup` makes the
compute stream wait for that copy only when the layer is reached. On CPU it is a plain gather.
Inference only: the staged rows are copies, so no gradient flows back to the host table.
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from engram_kernels.dispatch import engram_lookup


@dataclass(frozen=True)
class StagedRows:
    """The compact table of one forward: `table[rows]` is `host.table[requested rows]`."""

    table: Tensor
    tags: Tensor
    rows: Tensor
    ready: torch.cuda.Event | None


class HostTable:
    def __init__(self, table: Tensor, tags: Tensor, device: torch.device | str = "cpu") -> None:
        if table.dim() != 2 or tags.shape != table.shape[:1]:
            raise ValueError(f"table must be [R, D] and tags [R]; got {table.shape}, {tags.shape}")
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        self.table = table.detach().cpu()
        self.tags = tags.cpu()
        if cuda:  # pinned pages make the copy asynchronous and run at full PCIe speed
            self.table, self.tags = self.table.pin_memory(), self.tags.pin_memory()
        self._stream = torch.cuda.Stream(self.device) if cuda else None

    def prefetch(self, rows: Tensor) -> StagedRows:
        """Start staging the rows of one forward. Pass rows hashed on the CPU (where the token ids
        are) so that reading them needs no device synchronisation."""
        unique, local = torch.unique(rows.cpu(), return_inverse=True)
        if self._stream is None:
            return StagedRows(self.table[unique], self.tags[unique], local.to(self.device), None)
        shape = (unique.numel(), self.table.shape[1])
        table = torch.empty(shape, dtype=self.table.dtype, pin_memory=True)
        torch.index_select(self.table, 0, unique, out=table)
        tags, local = self.tags[unique].pin_memory(), local.pin_memory()
        with torch.cuda.stream(self._stream):
            ready = torch.cuda.Event()
            staged = StagedRows(
                *(t.to(self.device, non_blocking=True) for t in (table, tags, local)), ready
            )
            ready.record()
        return staged

    def lookup(self, staged: StagedRows, fingerprints: Tensor) -> Tensor:
        """`engram_lookup` over the host table, reading only the staged rows."""
        if staged.ready is not None:
            stream = torch.cuda.current_stream(self.device)
            stream.wait_event(staged.ready)
            for t in (staged.table, staged.tags, staged.rows):
                t.record_stream(stream)  # allocated on the side stream, used on this one
        return engram_lookup(staged.table, staged.tags, staged.rows, fingerprints, sparse=False)
