"""In-memory index of one user's engrams: a vector matrix plus an inverted tag index. It is
rebuilt from the backend when another writer changed the user's rows, and patched in place after
this process's own writes, so recall never scans the database. Each engram is also linked to the
turns before and after it in its session (`SessionLinks`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engram_agents.store.arrays import room
from engram_agents.store.device_search import DeviceVectors
from engram_agents.store.passages import Passages
from engram_agents.store.ragged import HALF_FROM, RaggedRows
from engram_agents.store.records import RecallFilters, Tier
from engram_agents.store.rows import EngramRow
from engram_agents.store.sentences import SentenceRows
from engram_agents.store.session_links import SessionLinks

if TYPE_CHECKING:
    import torch

_NO_ROWS = np.zeros(0, dtype=np.int64)
_BULK = 1_000  # rows written at once that count as a load (and postings that count as long)


def _extended(arr: np.ndarray, size: int, fill: float = 0) -> np.ndarray:
    return np.concatenate([arr, np.full(size - len(arr), fill, dtype=arr.dtype)])


@dataclass
class Candidates:
    rows: np.ndarray  # positions in the index
    lexical: np.ndarray  # rarity-weighted tag overlap (BM25 with binary term frequency)


class ScopeIndex(SessionLinks):
    K1, B = 1.2, 0.75

    def __init__(
        self,
        dim: int,
        revision: int = 0,
        device: torch.device | None = None,
        uncounted: frozenset[str] = frozenset(),
    ) -> None:
        self.dim = dim
        self.revision = revision
        # Tags that mark a turn (who said it) rather than tell what it says: they do not count
        # in its length for the tag score, so marking turns leaves that score as it was.
        self.uncounted = uncounted
        # The vectors' copy on `device` for `dense_top` (store.device_search); None: numpy.
        self.on_device = DeviceVectors(device) if device is not None else None
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        self.tags: list[list[str]] = []
        self.postings: dict[str, list[int]] = {}
        # each posting as an array (a buffer, how much is filled) in step with the list: `posting`
        self._arrays: dict[str, tuple[np.ndarray, int]] = {}
        self.alive = np.zeros(0, dtype=bool)
        self.fields: dict[str, np.ndarray] = {
            name: np.zeros(0, dtype=dtype)
            for name, dtype in (
                ("active", bool), ("when_ts", np.float64), ("created_ts", np.float64),
                ("last_access_ts", np.float64), ("usefulness", np.float32),
                ("strength", np.float32), ("length", np.float32), ("short", bool),
            )
        }  # fmt: skip
        self.session: list[str | None] = []
        self.agent: list[str | None] = []
        self.agents: set[str | None] = set()  # every agent ever added (removed rows' too)
        self.prev = np.zeros(0, dtype=np.int64)  # the session's preceding engram, or -1
        self.next = np.zeros(0, dtype=np.int64)  # the session's following engram, or -1
        self.prev_dot = np.zeros(0, dtype=np.float32)  # its cosine with this engram
        # long turns' passages (store.passages): stored whole by the backend, float16 past HALF_FROM
        self.passages = RaggedRows(dim, spans=True, half_from=HALF_FROM)
        self.sentences = SentenceRows(dim)  # short turns' sentences (store.sentences)
        self._last_in_session: dict[str, int] = {}
        self._links_stale = False
        self._size = 0
        self._live = 0
        self._total_length = 0.0

    def __len__(self) -> int:
        return self._live

    def _grow(self, extra: int) -> None:
        need = self._size + extra
        if need <= len(self.alive):
            return
        self.vectors = room(self.vectors, self._size, need)
        cap = len(self.vectors)
        self.alive = _extended(self.alive, cap)
        self.prev = _extended(self.prev, cap, fill=-1)
        self.next = _extended(self.next, cap, fill=-1)
        self.prev_dot = _extended(self.prev_dot, cap)
        for name, arr in self.fields.items():
            self.fields[name] = _extended(arr, cap)

    def upsert(self, rows: list[EngramRow]) -> None:
        kept = {
            r.id: self.passages_of(r.id) for r in rows if r.passages is None and r.id in self.pos
        }
        self.remove([r.id for r in rows if r.id in self.pos])
        self._grow(len(rows))
        self._add_passages(self._size, [kept.get(row.id, row.passages) for row in rows])
        for row in rows:
            i = self._size
            self._size += 1
            self._live += 1
            self.ids.append(row.id)
            self.pos[row.id] = i
            self.vectors[i] = row.vector
            self.alive[i] = True
            self.tags.append(row.tags)
            for tag in row.tags:
                self.postings.setdefault(tag, []).append(i)
            self.session.append(row.session_id)
            self.agent.append(row.agent_id)
            self.agents.add(row.agent_id)
            length = len(row.tags) - len(self.uncounted.intersection(row.tags))
            self._total_length += length
            f = self.fields
            f["active"][i], f["when_ts"][i], f["created_ts"][i] = (
                row.active, row.when_ts, row.created_ts,
            )  # fmt: skip
            f["last_access_ts"][i], f["usefulness"][i], f["strength"][i] = (
                row.last_access_ts, row.usefulness, row.strength,
            )  # fmt: skip
            f["length"][i], f["short"][i] = length, row.tier == "short"
            self._link(i, row.session_id)
        if len(rows) >= _BULK:  # a load: convert the long postings now, not in a recall
            for tag, listed in self.postings.items():
                if len(listed) >= _BULK:
                    self.posting(tag)

    def _add_passages(self, start: int, passages: list[Passages | None]) -> None:
        """The passages of the rows about to take positions `start` on (None: none)."""
        held = [p for p in passages if p is not None and len(p)]
        counts = np.fromiter((len(p) if p is not None else 0 for p in passages), np.int64)
        added = self.passages.append(start + np.arange(len(passages)), counts)
        if held:
            self.passages.vectors[added] = np.concatenate([p.vectors for p in held])
            self.passages.spans[added] = np.concatenate([p.spans for p in held])

    def passages_of(self, engram_id: str) -> Passages:
        """The passages of an engram in the index (none for a turn within the window)."""
        part = self.passages.of(self.pos[engram_id])
        rows = np.arange(part.start, part.stop)
        return Passages(self.passages.spans[part].copy(), self.passages.gathered(rows))

    def passage_span(self, passage: int) -> tuple[int, int] | None:
        """The span of a passage `with_passages` picked; None for -1 (a row without)."""
        if passage < 0:
            return None
        return int(self.passages.spans[passage][0]), int(self.passages.spans[passage][1])

    def remove(self, ids: list[str]) -> None:
        for engram_id in ids:
            i = self.pos.pop(engram_id, None)
            if i is None:
                continue
            self.alive[i] = False
            self.passages.drop(i)
            self.sentences.drop(i)
            self._live -= 1
            if self.session[i] is not None:
                self._links_stale = True
            self._total_length -= float(self.fields["length"][i])
            for tag in self.tags[i]:
                self.postings[tag].remove(i)
                self._arrays.pop(tag, None)
                if not self.postings[tag]:
                    del self.postings[tag]
            self.tags[i] = []

    def touch(self, ids: list[str], ts: float) -> None:
        for engram_id in ids:
            if engram_id in self.pos:
                self.fields["last_access_ts"][self.pos[engram_id]] = ts

    def posting(self, tag: str) -> np.ndarray:
        """Rows holding `tag`, ascending. Writes append to the array in place (its buffer grows
        by doubling) instead of dropping it, so a recall after a write converts only the new
        rows: the common tags of long turns hold most of the scope, and converting such a list
        anew cost a recall milliseconds. A removal drops the array (rows leave the middle)."""
        listed = self.postings.get(tag, ())
        buf, filled = self._arrays.get(tag, (_NO_ROWS, 0))
        if filled != len(listed):
            buf = room(buf, filled, len(listed))
            buf[filled : len(listed)] = listed[filled:]
            filled = len(listed)
            self._arrays[tag] = (buf, filled)
        return buf[:filled]

    def holding(self, tag: str, rows: np.ndarray) -> np.ndarray:
        """Whether each of `rows` holds `tag`: one binary search per row in the tag's ascending
        posting, where `np.isin` would sort it whole again (a chat role's posting holds half the
        scope)."""
        listed = self.posting(tag)
        if not listed.size:
            return np.zeros(rows.size, dtype=bool)
        return listed[np.minimum(np.searchsorted(listed, rows), listed.size - 1)] == rows

    def idf(self, tag: str) -> float:
        df = len(self.postings.get(tag, ()))
        return math.log(1.0 + (self._live - df + 0.5) / (df + 0.5))

    def lexical(self, tags: list[str], common_fraction: float = 1.0) -> Candidates:
        """Rows sharing a tag with the query, with their BM25-style tag score (binary term
        frequency). Tags held by more than `common_fraction` of rows only add to the score of rows
        found through rarer tags, so a frequent tag never drags in half the store."""
        tags = [t for t in dict.fromkeys(tags) if t in self.postings]
        limit = common_fraction * self._live
        rare = [t for t in tags if len(self.postings[t]) <= limit] or tags
        hit = np.zeros(self._size, dtype=bool)
        for tag in rare:
            hit[self.posting(tag)] = True
        rows = np.flatnonzero(hit)
        avg = max(self._total_length / max(self._live, 1), 1.0)
        saturation = (self.K1 + 1) / (
            1 + self.K1 * (1 - self.B + self.B * self.fields["length"][rows] / avg)
        )
        score = np.zeros(rows.size, dtype=np.float32)
        for tag in tags:
            member = np.zeros(self._size, dtype=bool)
            member[self.posting(tag)] = True
            score += self.idf(tag) * saturation * member[rows]
        return Candidates(rows=rows, lexical=score)

    def vectors_of(self, ids: list[str]) -> np.ndarray:
        """Stored vectors of `ids` (all in the index), in that order."""
        return self.vectors[[self.pos[i] for i in ids]]

    def similarities(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of `query` with each of `rows`."""
        if rows.size > self._size // 4:  # one contiguous product beats gathering most rows
            return (self.vectors[: self._size] @ query)[rows]
        return self.vectors[rows] @ query

    def with_passages(
        self,
        query: np.ndarray,
        rows: np.ndarray,
        sims: np.ndarray,
        mode: str = "shared",
        static: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`sims` (the rows' own cosines) with each long turn scored by its best passage, as
        `mode` says (Passages.turn_similarity): the most similar part of a turn counts, shared
        with the other long turns that nearly repeat it. `static` passages (and `query`) live
        in another space, whose window passage stands in for the turn's own vector: a turn
        gains what its best passage gains over its window there, in the own cosines' units
        (`Passages.static_gain`). Also each row's best passage (for `passage_span`; -1 for a
        row without), so a hit shows the part that matched without scoring its passages
        again."""
        picked = np.full(rows.size, -1, dtype=np.int64)
        has, counts, starts, gather = self.passages.runs(rows)
        if not has.size:
            return sims, picked
        out = sims.astype(np.float32, copy=True)
        scores = self.passages.scores(gather, query)
        best = np.maximum.reduceat(scores, starts)
        # each row's best passage: the first of its passages that reaches its best
        at = np.flatnonzero(scores == np.repeat(best, counts))
        first = at[np.searchsorted(at, starts)]
        picked[has] = gather[first]
        vectors = self.passages.gathered(gather[first])
        reach = best  # how close each best passage is to the query, in the passages' space
        if static:
            best = sims[has] + Passages.static_gain(sims, scores, scores[starts], best)
        out[has] = Passages.turn_similarity(sims, has, best, vectors, mode, reach)
        return out, picked

    def mask(self, filters: RecallFilters, tag_keys: list[str]) -> np.ndarray:
        """Rows that pass `filters`; `tag_keys` are its tags as indexed (hashed when encrypted)."""
        n = self._size
        f = self.fields
        mask = self.alive[:n].copy()
        if not filters.include_superseded:
            mask &= f["active"][:n]
        if filters.tier is not None:
            mask &= f["short"][:n] == (filters.tier == Tier.SHORT)
        if filters.time_range is not None:
            when = f["when_ts"][:n]
            if filters.time_range.start:
                mask &= when >= filters.time_range.start.timestamp()
            if filters.time_range.end:
                mask &= when < filters.time_range.end.timestamp()
        for values, wanted in ((self.session, filters.session_id), (self.agent, filters.agent_id)):
            if wanted is not None:
                mask &= np.fromiter((v == wanted for v in values), bool, n)
        for tag in tag_keys:
            required = np.zeros(n, dtype=bool)
            required[self.posting(tag)] = True
            mask &= required
        return mask

    def nearest(
        self, vectors: np.ndarray, agents: list[str | None], n: int = 5
    ) -> list[list[tuple[float, str]]]:
        """For each vector, its `n` nearest live engrams of the same agent as (cosine, id), in
        one matrix product for the batch: an agent's engram never reinforces or replaces another
        agent's, so an agent scope stays a boundary (see `RecallFilters`)."""
        size = self._size
        if not len(self):
            return [[] for _ in vectors]
        sims = vectors @ self.vectors[:size].T
        sims[:, ~self.alive[:size]] = -np.inf
        wanted = set(agents)
        if len(wanted) > 1 or not self.agents <= wanted:  # else no row is another agent's
            stored_agents = np.array(self.agent[:size], dtype=object)  # compared in C
            for agent in wanted:
                sims[np.ix_([a == agent for a in agents], stored_agents != agent)] = -np.inf
        n = min(n, size)
        top = np.argpartition(-sims, n - 1, axis=1)[:, :n]
        return [
            [(float(sims[r, i]), self.ids[i]) for i in top[r] if np.isfinite(sims[r, i])]
            for r in range(len(vectors))
        ]

    def live_rows(self) -> np.ndarray:
        return np.flatnonzero(self.alive[: self._size])

    def dense_top(self, query: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
        """Positions of the `n` most similar live rows (a full scan; used to widen stage 1), on
        the device copy when the store searches on a GPU."""
        keep = self.alive[: self._size] if mask is None else mask
        if self.on_device is not None:
            return self.on_device.top(query, self.vectors, keep, n)
        sims = self.vectors[: self._size] @ query
        sims = np.where(keep, sims, -np.inf)
        n = min(n, int(keep.sum()))
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        top = np.argpartition(-sims, n - 1)[:n]
        return top[np.isfinite(sims[top])]
