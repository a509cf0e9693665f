"""Arrays that grow by appending (the index's rows, passages, postings and sentences), and
ragged lists made flat."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def room(arr: np.ndarray, used: int, need: int) -> np.ndarray:
    """`arr` with room for `need` rows, its first `used` kept: the capacity at least doubles
    when it grows, so appending row by row costs amortized O(1)."""
    if need <= len(arr):
        return arr
    grown = np.zeros((max(need, 2 * len(arr), 64), *arr.shape[1:]), dtype=arr.dtype)
    grown[:used] = arr[:used]
    return grown


def flattened(groups: Iterable[list[T]]) -> tuple[list[T], np.ndarray]:
    """The groups' items end to end and each group's size, without keeping the groups: a load's
    100k small lists alive at once would make every garbage collection pass walk them."""
    items: list[T] = []
    sizes: list[int] = []
    for group in groups:
        items += group
        sizes.append(len(group))
    return items, np.asarray(sizes, dtype=np.int64)
