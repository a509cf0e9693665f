"""Runs of vectors owned by index positions: a long turn's passages (store.passages), a short
turn's sentences (store.sentences). Position i owns rows first[i] .. first[i] + count[i] - 1
of `vectors` (and of `spans`, where kept), appended in order; a removed position's rows are
zeroed and no longer counted, so its place stays unused until the index is rebuilt."""

from __future__ import annotations

import numpy as np

from engram_agents.store.arrays import room


class RaggedRows:
    def __init__(self, dim: int, spans: bool = False) -> None:
        self.vectors = np.zeros((0, dim), dtype=np.float32)
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
