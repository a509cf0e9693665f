"""One Engram block: tagged multi-head table lookup, context-aware gate, short causal conv.

The output is added to the hidden state entering a decoder block. Rows that nobody wrote return
zero, and zero memory gives exactly zero output (no biases, RMSNorm(0) = 0), so the base model is
untouched wherever memory is silent.

`place_table("host")` keeps the table in (pinned) host memory for inference: each forward stages
the rows it reads to the GPU (`engram_kernels.HostTable`), so tables larger than the GPU work.
"""

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engram_agents.errors import InvalidInputError
from engram_agents.model.config import EngramConfig
from engram_kernels import (
    GateWeights,
    HostTable,
    NGramKeys,
    StagedRows,
    engram_gate,
    engram_hash_lookup,
    engram_lookup,
    rms_norm,
)

TablePlace = Literal["device", "host"]


@dataclass(frozen=True)
class Lookup:
    """What the Engram layers read in one forward: the rows and fingerprints of every key,
    hashed once for all layers. On the fused path (`ngram_keys` given: keyed ids, history and
    hashing) each layer hashes its N-grams on chip with `engram_hash_lookup`, so their rows never
    reach memory, and `rows`/`fingerprints` hold the pair keys only (None without pairs)."""

    rows: Tensor | None
    fingerprints: Tensor | None
    ngram_keys: NGramKeys | None = None


class EngramLayer(nn.Module):
    def __init__(self, config: EngramConfig, hidden_size: int, total_rows: int) -> None:
        super().__init__()
        in_dim = config.num_heads * config.head_dim
        self.pair_window = config.pair_window
        self.pair_width = config.heads_per_order * config.head_dim
        self.eps = config.norm_eps
        self.dilation = config.max_order
        self.context = (config.conv_kernel - 1) * self.dilation
        self.table = nn.Parameter(torch.zeros(total_rows, config.head_dim))
        self.register_buffer("tags", torch.zeros(total_rows, dtype=torch.long), persistent=True)
        self.key = nn.Linear(in_dim, hidden_size, bias=False)
        self.value = nn.Linear(in_dim, hidden_size, bias=False)
        nn.init.zeros_(self.value.weight)
        self.key_norm = nn.Parameter(torch.ones(hidden_size))
        self.hidden_norm = nn.Parameter(torch.ones(hidden_size))
        self.gate_bias = nn.Parameter(torch.tensor(float(config.gate_bias)))
        self.conv_norm = nn.Parameter(torch.ones(hidden_size))
        self.conv_weight = nn.Parameter(torch.zeros(hidden_size, 1, config.conv_kernel))
        self.host: HostTable | None = None

    def place_table(self, on: TablePlace, device: torch.device) -> None:
        """Move the table (and tags) to `device`, or to host memory read through a HostTable
        that stages rows to `device` (pinned when that is a GPU, so copies run asynchronously).
        """
        if on not in ("device", "host"):
            raise InvalidInputError(f"tables go on 'device' or 'host', not {on!r}")
        target = device if on == "device" else torch.device("cpu")
        table, tags = self.table.data.to(target), self.tags.to(target)
        if on == "host" and device.type == "cuda":
            table, tags = table.pin_memory(), tags.pin_memory()
        self.table.data, self.tags = table, tags
        # HostTable keeps pinned CPU tensors as they are: it reads this very storage
        self.host = HostTable(table, tags, device) if on == "host" else None

    def stage(self, rows: Tensor) -> StagedRows | None:
        """Start copying the rows one forward reads (host tables only; None otherwise). The
        staged rows are copies: no gradient reaches a host table."""
        return None if self.host is None else self.host.prefetch(rows)

    def dense_parameters(self) -> dict[str, nn.Parameter]:
        """Everything trained with Adam (the table is trained sparsely)."""
        return {n: p for n, p in self.named_parameters() if n != "table"}

    def read(self, lookup: Lookup, staged: StagedRows | None = None) -> Tensor:
        """The memory vector [B, T, num_heads * head_dim]: the order heads side by side, then the
        pair heads summed over distances (a pair means the same wherever it occurs). With a
        host table, `staged` holds the rows `stage` copied for this forward."""
        if lookup.ngram_keys is not None:
            mem = engram_hash_lookup(self.table, self.tags, lookup.ngram_keys)
            if lookup.rows is not None:
                pairs = engram_lookup(self.table, self.tags, lookup.rows, lookup.fingerprints)
                mem = torch.cat([mem, pairs], dim=-1)
        elif self.host is not None:
            if staged is None:
                raise InvalidInputError("a host-memory Engram table reads staged rows only")
            mem = self.host.lookup(staged, lookup.fingerprints)
        else:
            mem = engram_lookup(self.table, self.tags, lookup.rows, lookup.fingerprints)
        if not self.pair_window:
            return mem
        split = mem.shape[-1] - self.pair_window * self.pair_width
        pairs = mem[..., split:].unflatten(-1, (self.pair_window, self.pair_width)).sum(-2)
        return torch.cat([mem[..., :split], pairs], dim=-1)

    def forward(
        self,
        hidden: Tensor,
        lookup: Lookup,
        conv_state: Tensor | None = None,
        staged: StagedRows | None = None,
    ) -> tuple[Tensor, Tensor]:
        """hidden: [B, T, d]. Returns (output [B, T, d] in float32, the new conv state)."""
        mem = self.read(lookup, staged)
        h = hidden.float()
        gate = GateWeights(self.key_norm, self.hidden_norm, self.gate_bias, self.eps)
        gated = engram_gate(h, self.key(mem), self.value(mem), gate)
        x = rms_norm(gated, self.conv_norm, self.eps)
        if conv_state is None:
            conv_state = x.new_zeros(x.shape[0], self.context, x.shape[2])
        window = torch.cat([conv_state, x], dim=1)
        conv = F.conv1d(
            window.transpose(1, 2), self.conv_weight, groups=x.shape[2], dilation=self.dilation
        )
        out = gated + F.silu(conv.transpose(1, 2))
        return out, window[:, window.shape[1] - self.context :]
