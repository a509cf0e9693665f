"""Shared inputs of the kernel tests (the root conftest turns on the Triton interpreter)."""

from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

from engram_kernels import HashConfig


@dataclass
class HashInputs:
    """One Engram addressing setup and a batch of compressed ids."""

    ids: Tensor
    history: Tensor
    orders: tuple[int, ...]
    multipliers: Tensor
    fingerprint_multipliers: Tensor
    head_sizes: Tensor
    head_offsets: Tensor
    unordered: bool

    @property
    def hashing(self) -> HashConfig:
        return HashConfig(
            self.orders, self.multipliers, self.fingerprint_multipliers,
            self.head_sizes, self.head_offsets, self.unordered,
        )  # fmt: skip

    @property
    def args(self) -> tuple:
        """What the hash ops take: ids, history and the hashing."""
        return self.ids, self.history, self.hashing

    @property
    def total_rows(self) -> int:
        return int((self.head_offsets + self.head_sizes).max())


PRIMES = (5, 7, 11, 13, 17, 19, 23, 29)


def make_hash_inputs(
    batch: int,
    length: int,
    orders: tuple[int, ...] = (2, 3),
    heads: int = 2,
    vocab: int = 6,
    keyed: float = 0.7,
    unordered: bool = False,
    seed: int = 0,
) -> HashInputs:
    """Small vocab and tables so that N-grams repeat and rows collide, as in real tables."""
    g = torch.Generator().manual_seed(seed)
    max_order = max(orders)
    ids = torch.randint(1, vocab, (batch, length), generator=g)
    ids = ids * (torch.rand(batch, length, generator=g) < keyed)
    history = torch.randint(0, vocab, (batch, max_order - 1), generator=g)
    sizes = torch.tensor(PRIMES[: len(orders) * heads]).view(len(orders), heads)
    offsets = (sizes.flatten().cumsum(0) - sizes.flatten()).view_as(sizes)
    return HashInputs(
        ids=ids,
        history=history,
        orders=orders,
        multipliers=torch.randint(1, 2**62, (max_order,), generator=g) | 1,
        fingerprint_multipliers=torch.randint(1, 2**62, (max_order,), generator=g) | 1,
        head_sizes=sizes,
        head_offsets=offsets,
        unordered=unordered,
    )


@pytest.fixture
def hash_inputs():
    return make_hash_inputs
