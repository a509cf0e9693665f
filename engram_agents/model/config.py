"""EngramConfig: where Engram layers sit and how their hashed N-gram tables are shaped."""

import hashlib
import json

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % p for p in range(2, int(n**0.5) + 1))


def distinct_primes_below(start: int, count: int) -> list[int]:
    """The `count` largest primes <= start, largest first: one distinct size per hash head."""
    primes, n = [], start
    while len(primes) < count:
        if _is_prime(n):
            primes.append(n)
        n -= 1
    return primes


class EngramConfig(BaseModel):
    """Configuration saved with every adapter and user delta (a delta only loads under the
    config it was trained with)."""

    model_config = ConfigDict(frozen=True)

    orders: tuple[int, ...] = Field((2, 3), description="N-gram orders hashed at every position")
    content_words: bool = Field(
        True,
        description="also key each rare content word on its own (an order-1 table): a reworded "
        "question names the same things in other N-grams",
    )
    pair_window: int = Field(
        3,
        ge=0,
        le=8,
        description="also key each content word paired (unordered) with each of the this many "
        "content words before it, so a question that rewords the others or reorders them still "
        "shares keys with the memorized one; 0 turns pair keys off",
    )
    heads_per_order: int = Field(4, ge=1, le=64, description="hash heads per order")
    head_dim: int = Field(32, ge=1, le=4096, description="embedding width of one head")
    rows_per_head: int = Field(
        65536, ge=17, description="approximate rows per head; each head gets a distinct prime"
    )
    layers: tuple[int, ...] | None = Field(
        None, description="decoder blocks to attach to; None places them by depth_fractions"
    )
    depth_fractions: tuple[float, ...] = Field(
        (0.07, 0.3), description="relative depths of the Engram blocks when layers is None"
    )
    conv_kernel: int = Field(4, ge=1, le=16, description="short causal depthwise conv width")
    gate_bias: float = Field(-2.0, description="initial gate bias; negative starts it mostly shut")
    unordered: bool = Field(
        False, description="hash each N-gram as a set, so reordered words share a row"
    )
    common_token_fraction: float = Field(
        0.06,
        ge=0.0,
        le=1.0,
        description="content-word (order-1) keys are only written for tokens past this "
        "fraction of the BPE merge order (rare words), never for frequent ones",
    )
    seed: int = Field(0, description="seed of the hash multipliers")
    norm_eps: float = 1e-6

    @field_validator("orders")
    @classmethod
    def _orders(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(n < 1 or n > 8 for n in v) or len(set(v)) != len(v):
            raise ValueError(f"orders must be distinct integers in 1..8, got {v}")
        return tuple(sorted(v))

    @field_validator("depth_fractions")
    @classmethod
    def _fractions(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v or any(not 0.0 <= f < 1.0 for f in v):
            raise ValueError(f"depth_fractions must lie in [0, 1), got {v}")
        return v

    @model_validator(mode="after")
    def _layers(self) -> "EngramConfig":
        if self.layers is not None and (not self.layers or min(self.layers) < 0):
            raise ValueError(f"layers must be non-empty block indices, got {self.layers}")
        return self

    @property
    def hashed_orders(self) -> tuple[int, ...]:
        """The orders the tables are addressed by: `orders`, plus 1 for content words."""
        return tuple(sorted({*self.orders, 1})) if self.content_words else self.orders

    @property
    def max_order(self) -> int:
        return max(self.hashed_orders)

    @property
    def history_width(self) -> int:
        """Keyed ids incremental decoding carries: enough for the longest N-gram and pair."""
        return max(self.max_order - 1, self.pair_window)

    @property
    def regions(self) -> int:
        """Table regions of K heads each: one per hashed order, one for pairs."""
        return len(self.hashed_orders) + bool(self.pair_window)

    @property
    def lookup_slots(self) -> int:
        """Fingerprints per position: one per order, one per pair distance."""
        return len(self.hashed_orders) + self.pair_window

    @property
    def num_heads(self) -> int:
        """Heads of the memory read (pair distances share theirs, and are summed)."""
        return self.regions * self.heads_per_order

    def head_sizes(self) -> list[list[int]]:
        """Distinct prime table sizes, [region][head] (orders, then pairs)."""
        primes = distinct_primes_below(self.rows_per_head, self.num_heads)
        k = self.heads_per_order
        return [primes[i * k : (i + 1) * k] for i in range(self.regions)]

    def layer_indices(self, num_layers: int) -> list[int]:
        if self.layers is not None:
            bad = [i for i in self.layers if i >= num_layers]
            if bad:
                raise ValueError(f"Engram layers {bad} do not exist: the model has {num_layers}")
            return sorted(set(self.layers))
        return sorted({min(num_layers - 1, round(f * num_layers)) for f in self.depth_fractions})

    def fingerprint(self) -> str:
        """A short hash of everything that changes table addressing or shapes."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[
            :16
        ]
