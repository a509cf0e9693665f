"""Runs of vectors owned by index positions (store.ragged): what passages and sentences share."""

from __future__ import annotations

import numpy as np

from engram_agents.store.ragged import RaggedRows


def _filled(rows: RaggedRows, positions: list[int], counts: list[int]) -> None:
    added = rows.append(np.asarray(positions), np.asarray(counts))
    rows.vectors[added] = np.arange(added.start, added.stop)[:, None] + 1.0
    rows.spans[added] = np.arange(added.start, added.stop)[:, None]


def test_positions_own_their_runs_in_order_and_gather_by_run():
    rows = RaggedRows(3, spans=True)
    _filled(rows, [0, 1, 2], [2, 0, 1])
    _filled(rows, [5], [3])  # positions 3 and 4 own nothing (never appended)
    assert len(rows) == 6 and rows.used == 6
    assert rows.vectors[rows.of(5), 0].tolist() == [4.0, 5.0, 6.0]
    has, counts, starts, gather = rows.runs(np.asarray([5, 1, 0, 9, 4, 2]))
    assert has.tolist() == [0, 2, 5] and counts.tolist() == [3, 2, 1]
    assert starts.tolist() == [0, 3, 5] and gather.tolist() == [3, 4, 5, 0, 1, 2]


def test_a_dropped_position_owns_nothing_and_its_vectors_are_zero():
    rows = RaggedRows(2, spans=True)
    _filled(rows, [0, 1], [2, 2])
    rows.drop(0)
    rows.drop(7)  # never appended: nothing to do
    assert len(rows) == 2 and not rows.vectors[:2].any() and rows.vectors[2:4].all()
    has, *_ = rows.runs(np.asarray([0, 1]))
    assert has.tolist() == [1]


def test_growing_keeps_what_was_there():
    rows = RaggedRows(4)
    for position in range(100):
        added = rows.append(np.asarray([position]), np.asarray([position % 3]))
        rows.vectors[added] = position
    assert rows.spans is None and len(rows) == sum(p % 3 for p in range(100))
    assert all((rows.vectors[rows.of(p)] == p).all() for p in range(100))
