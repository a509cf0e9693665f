"""Parametric consolidation: write facts into the Engram tables by training Engram parameters only.

The backbone is frozen. Only N-grams and word pairs of a fact's own question claim table rows (a
row's tag is set to the key's fingerprint), so framing words, template tokens and keys of other
prompts are never written; the tables get sparse gradients and SparseAdam, the small dense
Engram weights Adam.
"""

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from engram_agents.model.chat_format import ChatEncoder
from engram_agents.model.facts import Fact, training_pairs
from engram_agents.model.kv_cache import cache_of, with_cache
from engram_agents.model.model import EngramModel
from engram_kernels import hit_mask


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 12.0
    batch_size: int = 16
    lr_table: float = 0.2
    lr_dense: float = 1e-2
    row_init_std: float = 0.5
    value_init_std: float = 0.05
    target_loss: float = 0.02
    # Epochs alone would give a single fact a handful of steps: too few to write it.
    min_steps: int = 30
    # Silence this share of a fact's N-gram lookups at random in each step, so that any one of
    # its keys alone must carry the answer: a reworded question that shares only some of the
    # fact's words still recalls it.
    key_dropout: float = 0.3
    # In this share of the examples a single one of the fact's written keys is looked up, so
    # that each key alone carries the answer: a reworded question often keeps one key only.
    single_key: float = 0.25
    # When facts are added to a user's memory, the facts already stored are not retrained in
    # full: this many of them per new fact are replayed alongside, so that the shared dense
    # weights keep serving them while training costs grow with the new facts only.
    replay: float = 1.0
    seed: int = 0


@dataclass
class Example:
    ids: list[int]
    key_mask: list[int]
    labels: list[int]


@dataclass(frozen=True)
class MemorizeReport:
    facts: int
    examples: int
    steps: int
    final_loss: float
    seconds: float
    rows_written: int


@dataclass(frozen=True)
class ForgetReport:
    """What `EngramLM.forget_many` did: the facts removed, the user's rows given back their
    shared values (every row a forgotten fact's training touched, shared ones included), and
    the remaining facts retrained because they used one of those rows."""

    facts: int
    rows_reset: int
    retrained: int
    training: MemorizeReport | None = None


def build_examples(encoder: ChatEncoder, facts: Sequence[Fact]) -> list[Example]:
    out = []
    end = encoder.stop_token_ids()
    end_id = next(iter(end)) if end else None
    for fact in facts:
        for prompt, answer in training_pairs(fact):
            ids, mask = encoder.encode([{"role": "user", "content": prompt}])
            ans = encoder.tokenizer.encode(answer, add_special_tokens=False)
            if end_id is not None:
                ans = [*ans, end_id]
            out.append(Example(ids + ans, mask + [0] * len(ans), [-100] * len(ids) + ans))
    return out


def fact_keys(model: EngramModel, encoder: ChatEncoder, fact: Fact) -> tuple[Tensor, Tensor]:
    """Rows [N, H] and per-head fingerprints [N, H] of the N-grams of a fact's question, where
    a unigram of a frequent token gets fingerprint 0 (it is never written)."""
    ids, mask = encoder.encode([{"role": "user", "content": fact.qa()[0]}])
    device = model.multipliers.device
    keys = model.key_ids(torch.tensor([ids], device=device), torch.tensor([mask], device=device))
    rows, fps = model.hash(keys)
    if 1 in model.config.hashed_orders:
        common = model.compressor.rank.to(device)[keys] < model.config.common_token_fraction
        o = model.config.hashed_orders.index(1)
        fps[..., o] = torch.where(common, 0, fps[..., o])
    fps = fps.repeat_interleave(model.config.heads_per_order, dim=-1)
    return rows[0], fps[0]


def written_rows(
    model: EngramModel, encoder: ChatEncoder, facts: Sequence[Fact]
) -> dict[str, Tensor]:
    """Per layer, the rows holding one of the facts' N-grams (tag equal to its fingerprint)."""
    keys = [fact_keys(model, encoder, f) for f in facts]
    rows = torch.cat([r.flatten() for r, _ in keys])
    fps = torch.cat([f.flatten() for _, f in keys])
    out = {}
    for name, layer in model.engram.items():
        mine = (fps != 0) & (layer.tags[rows] == fps)
        out[name] = torch.unique(rows[mine])
    return out


def claim_rows(
    model: EngramModel, encoder: ChatEncoder, facts: Sequence[Fact], init_std: float, gen
) -> int:
    """Give every N-gram and pair of each fact's question its own rows in each head (tag =
    fingerprint).

    Unigrams are keys only for rare tokens, and every key only when found in one fact's
    question (a word, N-gram or pair several facts share tells them apart no better than a stop
    word, and training it toward several answers would blur each).
    A head whose row already belongs to another key is left to it (the fact keeps its other
    heads). Returns how many rows were newly claimed per layer.
    """
    per_fact = [fact_keys(model, encoder, f) for f in facts]
    config = model.config
    fps_per_fact = [fps for _, fps in per_fact]
    _drop_shared(fps_per_fact, list(range(config.lookup_slots)), config.heads_per_order)
    r = torch.cat([rows[fps != 0] for rows, fps in per_fact])
    f = torch.cat([fps[fps != 0] for _, fps in per_fact])
    if not len(r):
        return 0
    r, first = _first_occurrence(r)
    f = f[first]
    claimed = 0
    with torch.no_grad():
        for layer in model.engram.values():
            free = layer.tags[r] == 0
            new_rows = r[free]
            layer.tags[new_rows] = f[free]
            noise = torch.randn(len(new_rows), layer.table.shape[1], generator=gen) * init_std
            layer.table[new_rows] = noise.to(layer.table.device)
            claimed = len(new_rows)
    return claimed


def _drop_shared(fps_per_fact: list[Tensor], slots: list[int], heads: int) -> None:
    """Zero, in these lookup slots, the fingerprints of keys that occur in several facts."""
    cols = torch.tensor([s * heads + j for s in slots for j in range(heads)])
    seen = [torch.unique(f[:, cols][f[:, cols] != 0]) for f in fps_per_fact]
    if not seen:
        return
    values, counts = torch.cat(seen).unique(return_counts=True)
    shared = values[counts > 1]
    for f in fps_per_fact:
        block = f[:, cols]
        f[:, cols] = torch.where(torch.isin(block, shared), 0, block)


def _lookups(model: EngramModel, examples: Sequence[Example]) -> Iterator[tuple[Tensor, Tensor]]:
    """Rows [T, slots * K] and fingerprints (one per head) of each example's keyed N-grams."""
    device = model.multipliers.device
    k = model.config.heads_per_order
    for e in examples:
        keys = model.key_ids(
            torch.tensor([e.ids], device=device), torch.tensor([e.key_mask], device=device)
        )
        rows, fps = model.hash(keys)
        yield rows[0], fps[0].repeat_interleave(k, dim=-1)


def addressed_rows(model: EngramModel, examples: Sequence[Example]) -> Tensor:
    """Every table row any N-gram of the examples' keyed tokens maps to."""
    found = [rows[fps != 0] for rows, fps in _lookups(model, examples)]
    return torch.unique(torch.cat(found)) if found else torch.empty(0, dtype=torch.long)


def hit_rows(model: EngramModel, examples: Sequence[Example]) -> Tensor:
    """The rows the examples' keyed N-grams hit (a row written for that very key): the rows
    training on them changed, and the rows that carry them when they are asked."""
    tags = next(iter(model.engram.values())).tags  # every layer's rows carry the same tags
    found = [rows[(fps != 0) & (tags[rows] == fps)] for rows, fps in _lookups(model, examples)]
    return torch.unique(torch.cat(found)) if found else torch.empty(0, dtype=torch.long)


def hit_rows_by_fact(
    model: EngramModel, encoder: ChatEncoder, facts: Sequence[Fact]
) -> list[Tensor]:
    """`hit_rows` of each fact's own examples, in the facts' order: built once per fact, they
    tell both which rows a set of facts trained and which other facts use those rows."""
    return [hit_rows(model, build_examples(encoder, [f])) for f in facts]


def _first_occurrence(x: Tensor) -> tuple[Tensor, Tensor]:
    uniq, inverse = torch.unique(x, return_inverse=True)
    first = torch.full_like(uniq, len(x)).scatter_reduce(
        0, inverse, torch.arange(len(x), device=x.device), reduce="amin"
    )
    return uniq, first


def _batch(examples: Sequence[Example], pad_id: int, device) -> tuple[Tensor, ...]:
    width = max(len(e.ids) for e in examples)

    def pad(seq, value):
        return torch.tensor([s + [value] * (width - len(s)) for s in seq], device=device)

    ids = pad([e.ids for e in examples], pad_id)
    attn = pad([[1] * len(e.ids) for e in examples], 0)
    keys = pad([e.key_mask for e in examples], 0)
    labels = pad([e.labels for e in examples], -100)
    return ids, attn, keys, labels


@dataclass(frozen=True)
class SharedPrefix:
    """The KV cache of the token prefix every example starts with (system prompt, template).

    No token in it is keyed, so Engram adds exactly zero there and its conv window stays zero:
    computing it once is exact, and roughly halves the cost of a training step.
    """

    length: int
    kv: list[tuple[Tensor, Tensor]]

    @classmethod
    def of(cls, model: EngramModel, examples: Sequence[Example]) -> "SharedPrefix | None":
        first = examples[0]
        n = min(e.key_mask.index(1) if 1 in e.key_mask else len(e.ids) for e in examples)
        for e in examples:
            while n and e.ids[:n] != first.ids[:n]:
                n -= 1
        if n < 2:
            return None
        ids = torch.tensor([first.ids[:n]], device=model.multipliers.device)
        with torch.no_grad(), model.disabled():
            cache = cache_of(model.base.base_model(input_ids=ids, use_cache=True))
        return cls(n, [(layer.keys, layer.values) for layer in cache.layers])

    def cache(self, batch: int, config):
        from transformers import DynamicCache

        data = [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in self.kv]
        return DynamicCache(ddp_cache_data=data, config=config)


@dataclass(frozen=True)
class KeyDropout:
    """The keys a training step looks up: each lookup (one key at one position) is silenced
    with probability `rate`, and in a `single` share of the examples one written key alone is
    kept (chosen at random among the keys whose rows the fact wrote)."""

    tags: Tensor
    rate: float
    single: float

    def __call__(self, rows: Tensor, fps: Tensor) -> Tensor:
        keep = torch.rand(fps.shape, device=fps.device) >= self.rate
        if self.single:
            hits = hit_mask(self.tags, rows, fps).unflatten(-1, (fps.shape[-1], -1))
            live = hits.any(-1).flatten(1)
            score = torch.rand(live.shape, device=fps.device).masked_fill(~live, -1.0)
            one = torch.zeros_like(live).scatter_(1, score.argmax(1, keepdim=True), True)
            alone = (torch.rand(len(live), device=fps.device) < self.single) & live.any(1)
            keep = torch.where(alone[:, None, None], one.view_as(keep), keep)
        return torch.where(keep, fps, 0)


def answer_loss(
    model: EngramModel,
    ids: Tensor,
    attn: Tensor,
    keys: Tensor,
    labels: Tensor,
    prefix: SharedPrefix | None = None,
    mask_keys: KeyDropout | None = None,
):
    """Cross-entropy on answer tokens only; logits are computed at those positions alone."""
    base = model.base
    extra = {}
    if prefix is not None:
        n = prefix.length
        ids, keys, labels = ids[:, n:], keys[:, n:], labels[:, n:]
        extra = with_cache(base.base_model, prefix.cache(ids.shape[0], base.config))
    with model.engaged(ids, keys, None, mask_keys):
        hidden = base.base_model(input_ids=ids, attention_mask=attn, **extra).last_hidden_state
    target = labels[:, 1:]
    where = target != -100
    logits = base.get_output_embeddings()(hidden[:, :-1][where])
    return F.cross_entropy(logits.float(), target[where])


def train(
    model: EngramModel,
    encoder: ChatEncoder,
    facts: Sequence[Fact],
    cfg: TrainConfig = TrainConfig(),
    progress: Callable[[int, int, float], None] | None = None,
    before_write: Callable[[dict[str, Tensor]], None] | None = None,
) -> MemorizeReport:
    """Train the Engram parameters on `facts`; before_write receives every row training may
    change (so the caller can keep the shared values) before anything is written."""
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    examples = build_examples(encoder, facts)
    if before_write:
        rows = addressed_rows(model, examples)
        before_write({name: rows for name in model.engram})
    with torch.no_grad():
        for layer in model.engram.values():
            if not layer.value.weight.any():  # zero W_v and fresh rows would give no gradient
                layer.value.weight.normal_(0.0, cfg.value_init_std, generator=gen)
    rows = claim_rows(model, encoder, facts, cfg.row_init_std, gen)
    tok = encoder.tokenizer
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    tables = [layer.table for layer in model.engram.values()]
    dense = [p for layer in model.engram.values() for p in layer.dense_parameters().values()]
    opt_table = torch.optim.SparseAdam(tables, lr=cfg.lr_table)
    opt_dense = torch.optim.Adam(dense, lr=cfg.lr_dense)
    steps = max(cfg.min_steps, math.ceil(cfg.epochs * len(examples) / cfg.batch_size))
    device = model.multipliers.device
    prefix = SharedPrefix.of(model, examples)
    tags = next(iter(model.engram.values())).tags  # every layer's rows carry the same tags
    dropout = KeyDropout(tags, cfg.key_dropout, cfg.single_key)
    order: list[int] = []
    ema, step = None, 0
    model.engram.train()
    for step in range(1, steps + 1):
        if len(order) < cfg.batch_size:
            fresh = list(range(len(examples)))
            rng.shuffle(fresh)
            order += fresh
        batch = [examples[i] for i in order[: cfg.batch_size]]
        del order[: cfg.batch_size]
        with torch.enable_grad():
            loss = answer_loss(model, *_batch(batch, pad_id, device), prefix, mask_keys=dropout)
            opt_table.zero_grad()
            opt_dense.zero_grad()
            loss.backward()
        opt_table.step()
        opt_dense.step()
        ema = loss.item() if ema is None else 0.8 * ema + 0.2 * loss.item()
        if progress:
            progress(step, steps, ema)
        if ema < cfg.target_loss and step * cfg.batch_size >= len(examples):
            break
    model.engram.eval()
    return MemorizeReport(
        facts=len(facts),
        examples=len(examples),
        steps=step,
        final_loss=float(ema or 0.0),
        seconds=time.perf_counter() - start,
        rows_written=rows,
    )
