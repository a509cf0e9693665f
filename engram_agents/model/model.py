"""Attach Engram layers to a Hugging Face causal LM (PEFT-style: the base stays as it is).

Each Engram layer runs in a forward pre-hook of its decoder block and adds its output to the
block's input hidden state. The N-gram rows are hashed once per forward from the compressed ids
and shared by every Engram layer; `EngramState` carries the last keyed ids and the conv windows so
that KV-cached decoding hashes one token at a time and matches a full forward pass exactly.
With `place_tables("host")` the rows are staged to the GPU as soon as they are hashed, so the copy
runs while the blocks before each Engram layer compute. On CUDA with triton (tables on the GPU)
each layer hashes its N-grams on chip instead (`engram_hash_lookup`, see `fuses_lookup`).
"""

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from engram_agents.errors import InvalidInputError
from engram_agents.model.compression import TokenCompressor
from engram_agents.model.config import EngramConfig
from engram_agents.model.layer import EngramLayer, Lookup, TablePlace
from engram_kernels import (
    HAS_TRITON,
    HashConfig,
    NGramKeys,
    StagedRows,
    next_history,
    ngram_hash,
    reference_forced,
    skip_pair_hash,
)


@dataclass
class EngramState:
    """What incremental decoding must remember between calls."""

    history: Tensor
    conv: dict[str, Tensor] = field(default_factory=dict)


def decoder_blocks(model: nn.Module) -> nn.ModuleList:
    """The list of decoder blocks of a causal LM (Llama/Qwen `model.layers`, GPT-2 `h`, ...)."""
    n = model.config.num_hidden_layers
    for _, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return module
    raise ValueError(f"cannot find the {n} decoder blocks of {type(model).__name__}")


class EngramModel(nn.Module):
    """A frozen causal LM with Engram layers at the start of some decoder blocks."""

    def __init__(self, base: nn.Module, config: EngramConfig, compressor: TokenCompressor) -> None:
        super().__init__()
        object.__setattr__(self, "base", base)  # not a submodule: adapters save Engram only
        self.config = config
        self.compressor = compressor
        blocks = decoder_blocks(base)
        self.layer_ids = config.layer_indices(len(blocks))
        sizes = config.head_sizes()
        flat = [s for per_order in sizes for s in per_order]
        offsets = torch.tensor([0, *flat[:-1]]).cumsum(0)
        self.total_rows = sum(flat)
        gen = torch.Generator().manual_seed(config.seed)
        odd = lambda: torch.randint(1, 1 << 40, (max(config.max_order, 2),), generator=gen) * 2 + 1  # noqa: E731
        self.register_buffer("multipliers", odd(), persistent=False)
        self.register_buffer("fp_multipliers", odd(), persistent=False)
        self.register_buffer("head_sizes", torch.tensor(sizes), persistent=False)
        self.register_buffer("head_offsets", offsets.view(len(sizes), -1), persistent=False)
        hidden = base.config.hidden_size
        self.engram = nn.ModuleDict(
            {str(i): EngramLayer(config, hidden, self.total_rows) for i in self.layer_ids}
        )
        device = next(base.parameters()).device
        self.to(device)
        self._lookup: Lookup | None = None
        self._staged: dict[str, StagedRows | None] = {}
        self._state: EngramState | None = None
        self._silent = False
        self._hooks = [
            blocks[i].register_forward_pre_hook(self._block_hook(str(i)), with_kwargs=True)
            for i in self.layer_ids
        ]
        self._hooks.append(base.register_forward_pre_hook(self._plain_call, with_kwargs=True))
        self._hooks.append(base.register_forward_hook(self._plain_call_done))
        self._plain = False
        self.enabled = True

    # -- addressing -------------------------------------------------------------------------
    def key_ids(self, input_ids: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """Compressed ids, zeroed where the mask says the token is not to be keyed."""
        ids = self.compressor(input_ids)
        return ids if key_mask is None else ids * key_mask.to(ids.dtype)

    def hash(self, key_ids: Tensor, history: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Flat-table rows [B, T, slots * K] and fingerprints [B, T, slots] of every suffix
        N-gram, then of every pair (one slot per order, then one per pair distance)."""
        if history is None:
            history = self.new_history(key_ids.shape[0], key_ids.device)
        rows, fps = ngram_hash(*self._ngram_keys(key_ids, history))
        if not self.config.pair_window:
            return rows, fps
        pair_rows, pair_fps = self._pair_hash(key_ids, history)
        return torch.cat([rows, pair_rows], dim=-1), torch.cat([fps, pair_fps], dim=-1)

    @property
    def fuses_lookup(self) -> bool:
        """Whether each layer hashes its N-grams on chip (`engram_hash_lookup`): on CUDA with
        triton and the tables on the GPU, where the hashed rows need not round-trip through
        memory. Elsewhere (CPU, host tables, `reference_ops`) the rows are hashed once per
        forward for every layer, in PyTorch."""
        return (
            HAS_TRITON
            and not reference_forced()
            and self.multipliers.is_cuda
            and self.tables_on == "device"
        )

    def address(self, key_ids: Tensor, history: Tensor | None = None) -> Lookup:
        """What the layers read for these keys: every row hashed here, or on the fused path
        (`fuses_lookup`) the pair rows only, with the keyed ids the layers hash N-grams from."""
        if not self.fuses_lookup:
            return Lookup(*self.hash(key_ids, history))
        if history is None:
            history = self.new_history(key_ids.shape[0], key_ids.device)
        pairs = self._pair_hash(key_ids, history) if self.config.pair_window else (None, None)
        return Lookup(*pairs, ngram_keys=self._ngram_keys(key_ids, history))

    def _ngram_keys(self, key_ids: Tensor, history: Tensor) -> NGramKeys:
        """The arguments of the N-gram hash: ids, the history its orders need, the hashing."""
        n = len(self.config.hashed_orders)
        hashing = HashConfig(
            self.config.hashed_orders,
            self.multipliers,
            self.fp_multipliers,
            self.head_sizes[:n],
            self.head_offsets[:n],
            self.config.unordered,
        )
        return NGramKeys(
            key_ids, history[:, history.shape[1] - (self.config.max_order - 1) :], hashing
        )

    def _pair_hash(self, key_ids: Tensor, history: Tensor) -> tuple[Tensor, Tensor]:
        n = len(self.config.hashed_orders)
        return skip_pair_hash(
            key_ids,
            history,
            self.config.pair_window,
            self.multipliers,
            self.fp_multipliers,
            self.head_sizes[n],
            self.head_offsets[n],
        )

    def new_history(self, batch: int, device: torch.device | None = None) -> Tensor:
        return torch.zeros(batch, self.config.history_width, dtype=torch.long, device=device)

    def new_state(self, batch: int = 1) -> EngramState:
        return EngramState(self.new_history(batch, self.multipliers.device))

    def place_tables(self, on: TablePlace) -> None:
        """Keep the Engram tables on the model's device ("device", the default) or in pinned
        host memory ("host": inference only, for tables larger than the GPU's memory)."""
        for layer in self.engram.values():
            layer.place_table(on, self.multipliers.device)

    @property
    def tables_on(self) -> TablePlace:
        return "host" if any(layer.host is not None for layer in self.engram.values()) else "device"

    def require_device_tables(self, action: str) -> None:
        """Writing the tables (memorize, a user's delta) needs them on the device."""
        if self.tables_on == "host":
            raise InvalidInputError(
                f"{action} needs the Engram tables on the device; they are in host memory "
                "(inference only): call place_tables('device') first"
            )

    def _set_lookup(self, lookup: Lookup | None) -> None:
        """What this forward's layers read, its rows staged now for host tables."""
        self._lookup = lookup
        self._staged = {}
        if lookup is not None and self.tables_on == "host":
            rows = lookup.rows.cpu()
            self._staged = {name: layer.stage(rows) for name, layer in self.engram.items()}

    # -- forward ----------------------------------------------------------------------------
    def forward(
        self,
        input_ids: Tensor,
        key_mask: Tensor | None = None,
        state: EngramState | None = None,
        **base_kwargs,
    ):
        """Run the base model with Engram. key_mask [B, T] selects the tokens memory is keyed on
        (e.g. user turns only); state makes the call incremental (KV-cached decoding)."""
        with self.engaged(input_ids, key_mask, state):
            return self.base(input_ids=input_ids, **base_kwargs)

    @contextmanager
    def disabled(self):
        """Run the base model alone inside the block (the same-run baseline for benchmarks)."""
        self.enabled = False
        try:
            yield
        finally:
            self.enabled = True

    @contextmanager
    def engaged(
        self,
        input_ids: Tensor,
        key_mask: Tensor | None,
        state: EngramState | None,
        mask_keys: Callable[[Tensor, Tensor], Tensor] | None = None,
    ):
        """Hash the N-grams of input_ids for every base call made inside the block.

        mask_keys (training only) maps (rows, fingerprints) to the fingerprints to look up, so
        training can silence some of the keys (key dropout).
        """
        if not self.enabled:
            yield
            return
        keys = self.key_ids(input_ids, key_mask)
        # A decoding step keyed on nothing (the assistant's side) can hit no row, and its
        # history stays as it is: blocks whose conv window has emptied are skipped outright.
        silent = state is not None and not bool(keys.any())
        history = None if state is None else state.history
        if silent:
            b, t = keys.shape
            rows = keys.new_zeros(b, t, self.config.lookup_slots * self.config.heads_per_order)
            fps = keys.new_zeros(b, t, self.config.lookup_slots)
            lookup = Lookup(rows, fps if mask_keys is None else mask_keys(rows, fps))
        elif mask_keys is not None:  # training rewrites fingerprints: it needs every row
            rows, fps = self.hash(keys, history)
            lookup = Lookup(rows, mask_keys(rows, fps))
        else:
            lookup = self.address(keys, history)
        self._set_lookup(lookup)
        self._state, self._silent = state, silent
        try:
            yield
        finally:
            self._set_lookup(None)
            self._state, self._silent = None, False
        if state is not None and not silent:
            state.history = next_history(keys, state.history)

    def _block_hook(self, name: str):
        def hook(module, args, kwargs):
            if self._lookup is None:
                return None
            hidden = args[0] if args else kwargs["hidden_states"]
            state = self._state
            window = None if state is None else state.conv.get(name)
            if self._silent and (window is None or not bool(window.any())):
                return None  # zero memory and an empty window: the output is exactly zero
            out, conv = self.engram[name](hidden, self._lookup, window, self._staged.get(name))
            if state is not None:
                state.conv[name] = conv
            hidden = hidden + out.to(hidden.dtype)
            if args:
                return (hidden, *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": hidden}

        return hook

    def _plain_call(self, module, args, kwargs):
        """A direct call of the base model (no state, every token keyed) still uses Engram."""
        if self._lookup is not None or not self.enabled:
            return None
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        if input_ids is None:
            return None
        self._plain = True
        self._set_lookup(self.address(self.key_ids(input_ids)))
        return None

    def _plain_call_done(self, module, args, output):
        if self._plain:
            self._plain = False
            self._set_lookup(None)
        return None

    def detach(self) -> None:
        """Remove the hooks: the base model runs as if Engram were never attached."""
        for h in self._hooks:
            h.remove()
        self._hooks = []
