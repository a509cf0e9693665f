"""Runs of vectors owned by index positions: a long turn's passages (store.passages), a short
turn's sentences (store.sentences). Position i owns rows first[i] .. first[i] + count[i] - 1
of `vectors` (and of `spans`, where kept), appended in order; a removed position's rows are
zeroed and no longer counted, so its place stays unused until the index is rebuilt.

The rows may be kept in float16 and are scored in float32 either way: numpy multiplies float16
without BLAS, in a loop many times slower. The index keeps sentences and passages in float32
until they pass `HALF_FROM` rows, then in float16: half the memory where it counts (175 MB of
sentences at 100k dialogue turns), while a small scope, whose every row is a candidate, keeps
its fast full product (float16 added 0.2–0.4 ms to a recall there; recall results are unchanged
on every development set either way)."""

from __future__ import annotations

import numpy as np

from engram_agents.store.arrays import room

HALF_FROM = 16_384  # rows (24 MB of float32 at 384 dimensions)
_CHUNK = 2048  # rows widened to float32 at once for a product over all (3 MB at 384: cache-sized)
_SIGN_AND_BODY = np.int32(-0x70000001)  # 0x8FFFFFFF: a float32's bits 28-30 cleared
_HALF_SCALE = np.float32(2.0**112)  # 2 ** (127 - 15): the two formats' exponent biases apart


def widened(rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Finite float16 `rows` as float32, exactly (into `out`, or a new array)."""
    single = _scaled_down(rows, out)
    single *= _HALF_SCALE
    return single


def _scaled_down(rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Finite float16 `rows` as float32 times 2 ** -112, exactly. numpy's own cast takes ~2.5 ns
    a value on this project's machines (no SIMD loop), several times a recall's product over
    the rows it gathers; this is three passes of integer arithmetic: a half's bits, sign-extended
    and shifted into a single's place with the bits between sign and exponent cleared, are the
    same number times 2 ** -112, subnormals included. A product with a query scaled by 2 ** 112
    is then the float32 one, bit for bit, with no pass to scale the rows back."""
    bits = np.empty(rows.shape, dtype=np.int32) if out is None else out.view(np.int32)
    np.copyto(bits, rows.view(np.int16))
    bits <<= 13
    bits &= _SIGN_AND_BODY
    return bits.view(np.float32)


class RaggedRows:
    def __init__(
        self, dim: int, spans: bool = False, dtype: type = np.float32, half_from: int | None = None
    ) -> None:
        """`half_from`: the rows turn float16 once there would be more than that many."""
        self.vectors = np.zeros((0, dim), dtype=dtype)
        self.half_from = half_from
        self.spans = np.zeros((0, 2), dtype=np.int64) if spans else None
        self.first = np.zeros(0, dtype=np.int64)
        self.count = np.zeros(0, dtype=np.int64)
        self.used = 0

    def __len__(self) -> int:
        """How many rows live positions own."""
        return int(self.count.sum())

    def append(self, positions: np.ndarray, counts: np.ndarray) -> slice:
        """Give each of `positions` (new ones) the next `counts[i]` rows; returns those rows,
        for the caller to fill."""
        end = int(positions.max()) + 1 if positions.size else 0
        self.first = room(self.first, len(self.first), end)
        self.count = room(self.count, len(self.count), end)
        need = self.used + int(counts.sum())
        if self.half_from is not None and need > self.half_from:
            self.vectors = self.vectors.astype(np.float16, copy=False)
        self.vectors = room(self.vectors, self.used, need)
        if self.spans is not None:
            self.spans = room(self.spans, self.used, need)
        self.first[positions] = self.used + np.cumsum(counts) - counts
        self.count[positions] = counts
        added, self.used = slice(self.used, need), need
        return added

    def of(self, position: int) -> slice:
        """The rows `position` owns."""
        start = self.first[position]
        return slice(start, start + self.count[position])

    def drop(self, position: int) -> None:
        """Forget a removed position's rows."""
        if position < len(self.count) and self.count[position]:
            self.vectors[self.of(position)] = 0
            self.count[position] = 0

    def runs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Of index positions `rows`: which own rows (places in `rows`), how many each, where
        each one's start in the gathered list, and the gathered rows, run after run."""
        count = np.zeros(rows.size, dtype=np.int64)
        inside = rows < len(self.count)
        count[inside] = self.count[rows[inside]]
        has = np.flatnonzero(count)
        counts = count[has]
        starts = np.cumsum(counts) - counts
        gather = np.repeat(self.first[rows[has]] - starts, counts) + np.arange(counts.sum())
        return has, counts, starts, gather

    def scores(self, gather: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Rows `gather`'s products with `query` (a unit vector: float16 rows are read scaled
        down by 2 ** -112 and the query scaled up as much), in float32."""
        half = self.vectors.dtype == np.float16
        if half:  # the rows are read scaled down (`_scaled_down`)
            query = query * _HALF_SCALE
        if gather.size > self.used // 4:  # one contiguous product beats gathering most rows
            return self._products(query)[gather]
        picked = self.vectors[gather]
        return (_scaled_down(picked) if half else picked) @ query

    def gathered(self, gather: np.ndarray) -> np.ndarray:
        """Rows `gather`, in float32."""
        picked = self.vectors[gather]
        return picked if picked.dtype == np.float32 else widened(picked)

    def _products(self, query: np.ndarray) -> np.ndarray:
        """Every row's product with `query` (scaled up for float16 rows, as `scores` does): float16
        rows a cache-sized chunk at a time, read into one reused buffer, so no float32 copy of
        the whole array is ever made."""
        if self.vectors.dtype == np.float32:
            return self.vectors[: self.used] @ query
        out = np.empty(self.used, dtype=np.float32)
        wide = np.empty((min(_CHUNK, self.used), self.vectors.shape[1]), dtype=np.float32)
        for start in range(0, self.used, _CHUNK):
            end = min(start + _CHUNK, self.used)
            out[start:end] = _scaled_down(self.vectors[start:end], wide[: end - start]) @ query
        return out
