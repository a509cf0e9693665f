"""Arrays that grow by appending (the index's rows, passages, postings and sentences)."""

from __future__ import annotations

import numpy as np


def room(arr: np.ndarray, used: int, need: int) -> np.ndarray:
    """`arr` with room for `need` rows, its first `used` kept: the capacity at least doubles
    when it grows, so appending row by row costs amortized O(1)."""
    if need <= len(arr):
        return arr
    grown = np.zeros((max(need, 2 * len(arr), 64), *arr.shape[1:]), dtype=arr.dtype)
    grown[:used] = arr[:used]
    return grown
