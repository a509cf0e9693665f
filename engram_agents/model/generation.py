"""Token-by-token generation over the KV cache, with Engram state carried between steps.

With a `MemoryMix`, each token is chosen by how much more likely the recalled memories in the
prompt make it than the same prompt without them (context-aware decoding, Shi et al. 2023,
arXiv 2305.14739), among the tokens the full prompt finds plausible: a small model that reads
past its memories otherwise answers from its priors. Beside a user's memorized tables the two
memories combine as experts: the tables are read on the prompt without the recalled text, and
each memory adds what it changes over the model with neither.
"""

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from engram_agents.errors import InvalidInputError
from engram_agents.model.kv_cache import cache_of, with_cache
from engram_agents.model.model import EngramModel


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise InvalidInputError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise InvalidInputError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InvalidInputError(f"top_p must be in (0, 1], got {self.top_p}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise InvalidInputError(f"stop must be non-empty strings, got {self.stop!r}")


@dataclass(frozen=True)
class Prompt:
    ids: list[int]
    key_mask: list[int]

    def unkeyed(self) -> "Prompt":
        return Prompt(self.ids, [0] * len(self.ids))


@dataclass(frozen=True)
class MemoryMix:
    """How the recalled text in a prompt, and a user's tables, steer decoding.

    The full prompt is decoded beside `bare` (the prompt without its recalled parts) and, given
    `tables` (that prompt keyed: what the user's tables recall from the question alone),
    beside that one too; the full prompt and `bare` then come unkeyed, so the tables act
    through their own stream only (keyed beside the recalled text, they garble its copy).
    Each token scores log p_full + m (log p_full - log p_bare) + t (log p_tables - log p_bare).
    """

    bare: Prompt
    tables: Prompt | None
    memory_weight: float
    tables_weight: float
    # Only tokens at least this probable, relative to the best, under the full prompt (or the
    # tables' prompt) are candidates: amplifying a difference of tiny probabilities picks noise.
    plausibility: float = 0.1

    def __post_init__(self) -> None:
        check_weights(self.memory_weight, self.tables_weight)
        if not 0 < self.plausibility <= 1:
            raise InvalidInputError(f"plausibility must be in (0, 1], got {self.plausibility}")

    def logits(
        self, full: torch.Tensor, bare: torch.Tensor, tables: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The score above, -inf outside the plausible tokens."""
        a, b = full.float().log_softmax(-1), bare.float().log_softmax(-1)
        score = a + self.memory_weight * (a - b)
        cut = math.log(self.plausibility)
        keep = a >= a.max() + cut
        if tables is not None:
            c = tables.float().log_softmax(-1)
            score = score + self.tables_weight * (c - b)
            keep |= c >= c.max() + cut
        return score.masked_fill(~keep, float("-inf"))


def check_weights(memory_weight: float, tables_weight: float) -> None:
    for name, value in (("memory_weight", memory_weight), ("tables_weight", tables_weight)):
        if not value >= 0:  # NaN too
            raise InvalidInputError(f"{name} must be >= 0, got {value}")


def sample(logits: torch.Tensor, p: SamplingParams, gen: torch.Generator | None) -> int:
    if p.temperature == 0:
        return int(logits.argmax())
    probs = torch.softmax(logits.float() / p.temperature, dim=-1)
    if p.top_p < 1:
        sorted_p, order = probs.sort(descending=True)
        keep = sorted_p.cumsum(0) - sorted_p < p.top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
    return int(torch.multinomial(probs.cpu(), 1, generator=gen))


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing chars might start a stop string (or an unfinished character)."""
    if text.endswith("\ufffd"):
        return len(text)
    return max((k for s in stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)


class _Stream:
    """One prompt decoded over its own KV cache and Engram state."""

    def __init__(self, model: EngramModel, ids: list[int], key_mask: list[int]) -> None:
        device = model.multipliers.device
        self.model, self.state = model, model.new_state(1)
        x, mask = torch.tensor([ids], device=device), torch.tensor([key_mask], device=device)
        self.out = model(x, mask, self.state, use_cache=True)

    @property
    def logits(self) -> torch.Tensor:
        return self.out.logits[0, -1]

    def feed(self, tok: int) -> None:
        step = torch.tensor([[tok]], device=self.model.multipliers.device)
        cache = with_cache(self.model.base, cache_of(self.out))
        self.out = self.model(step, torch.zeros_like(step), self.state, **cache)


@torch.inference_mode()
def generate(
    model: EngramModel,
    tokenizer,
    ids: list[int],
    key_mask: list[int],
    params: SamplingParams,
    stop_ids: set[int],
    mix: MemoryMix | None = None,
) -> Iterator[str]:
    """Yield text pieces as they are decoded; stop at EOS, a stop string or max_new_tokens."""
    gen = None
    if params.seed is not None:
        gen = torch.Generator().manual_seed(params.seed)
    streams = [_Stream(model, ids, key_mask)]
    if mix is not None:
        extra = [mix.bare] + ([mix.tables] if mix.tables is not None else [])
        streams += [_Stream(model, p.ids, p.key_mask) for p in extra]
    new: list[int] = []
    emitted = 0
    for _ in range(params.max_new_tokens):
        logits = mix.logits(*(s.logits for s in streams)) if mix else streams[0].logits
        tok = sample(logits, params, gen)
        if tok in stop_ids:
            break
        new.append(tok)
        text = tokenizer.decode(new, skip_special_tokens=True)
        hits = [i for i in (text.find(s, max(0, emitted - len(s))) for s in params.stop) if i >= 0]
        if hits:
            if min(hits) > emitted:
                yield text[emitted : min(hits)]
            return
        safe = len(text) - _held_back(text, params.stop)
        if safe > emitted:
            yield text[emitted:safe]
            emitted = safe
        for stream in streams:
            stream.feed(tok)
    text = tokenizer.decode(new, skip_special_tokens=True)
    if len(text) > emitted and not text.endswith("\ufffd"):
        yield text[emitted:]
