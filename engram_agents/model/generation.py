"""Token-by-token generation over the KV cache, with Engram state carried between steps."""

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


@torch.inference_mode()
def generate(
    model: EngramModel,
    tokenizer,
    ids: list[int],
    key_mask: list[int],
    params: SamplingParams,
    stop_ids: set[int],
) -> Iterator[str]:
    """Yield text pieces as they are decoded; stop at EOS, a stop string or max_new_tokens."""
    device = model.multipliers.device
    gen = None
    if params.seed is not None:
        gen = torch.Generator().manual_seed(params.seed)
    state = model.new_state(1)
    x = torch.tensor([ids], device=device)
    mask = torch.tensor([key_mask], device=device)
    out = model(x, mask, state, use_cache=True)
    new: list[int] = []
    emitted = 0
    for _ in range(params.max_new_tokens):
        tok = sample(out.logits[0, -1], params, gen)
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
        step = torch.tensor([[tok]], device=device)
        out = model(step, torch.zeros_like(step), state, **with_cache(model.base, cache_of(out)))
    text = tokenizer.decode(new, skip_special_tokens=True)
    if len(text) > emitted and not text.endswith("\ufffd"):
        yield text[emitted:]
