"""The session chain of a user's index: each engram linked to the one before it in the same
session, so recall can read a turn in its context (a reply, "Finished in four hours!", is found
by a question about what it answers, "How did the marathon go?") and the writer can tell whom a
turn's "he" refers to (store.referents)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class SessionLinks:
    """`ScopeIndex`'s session chain: `prev` and `next` (the session's preceding and following
    engram, or -1) and `prev_dot` (the cosine with the preceding one), kept by `_link` as rows
    are added and rebuilt by `_relink` after a removal."""

    ids: list[str]
    pos: dict[str, int]
    vectors: np.ndarray
    live_rows: Callable[[], np.ndarray]  # ScopeIndex's
    holding: Callable[[str, np.ndarray], np.ndarray]  # ScopeIndex's
    session: list[str | None]
    fields: dict[str, np.ndarray]
    prev: np.ndarray
    next: np.ndarray
    prev_dot: np.ndarray
    _size: int
    _last_in_session: dict[str, int]
    _links_stale: bool

    def _link(self, i: int, session: str | None) -> None:
        """Append `i` to its session's chain; an engram older than the chain's end (an update
        of an old one) marks the links for a rebuild instead."""
        if session is None:
            return
        last = self._last_in_session.get(session)
        created = self.fields["created_ts"]
        if last is not None and created[last] > created[i]:
            self._links_stale = True
            return
        self._last_in_session[session] = i
        if last is not None:
            self.prev[i], self.next[last] = last, i
            self.prev_dot[i] = self.vectors[i] @ self.vectors[last]

    def _relink(self) -> None:
        """Rebuild every session chain: live engrams in creation order within each session."""
        live = np.asarray([i for i in self.live_rows() if self.session[i] is not None], np.int64)
        codes: dict[str, int] = {}
        session = np.asarray([codes.setdefault(self.session[i], len(codes)) for i in live])
        by_time = np.lexsort((live, self.fields["created_ts"][live], session))
        order, same = live[by_time], session[by_time]
        follows = np.flatnonzero(same[1:] == same[:-1]) + 1
        self.prev[:] = -1
        self.next[:] = -1
        self.prev[order[follows]] = order[follows - 1]
        self.next[order[follows - 1]] = order[follows]
        linked = order[follows]
        self.prev_dot[linked] = np.einsum(
            "ij,ij->i", self.vectors[linked], self.vectors[self.prev[linked]]
        )
        ends = np.flatnonzero(np.append(same[1:] != same[:-1], True)) if order.size else []
        self._last_in_session = {self.session[order[j]]: int(order[j]) for j in ends}
        self._links_stale = False

    def in_context(self, rows: np.ndarray, sims: np.ndarray, query: np.ndarray, weight: float):
        """Cosine of the query with each row's vector blended with its predecessor's
        (`normalize(v + weight * v_prev)`), computed without storing a second vector."""
        prev = self._links()[0][rows]
        linked = prev >= 0
        if weight <= 0 or not linked.any():
            return sims
        out = sims.astype(np.float32, copy=True)
        before = self.vectors[prev[linked]] @ query
        norm = np.sqrt(1 + weight**2 + 2 * weight * self.prev_dot[rows[linked]])
        out[linked] = (sims[linked] + weight * before) / norm
        return out

    def replies(self, rows: np.ndarray, asking: str) -> np.ndarray:
        """The turns that follow those of `rows` holding `asking` (sketch.ASKS) in their session:
        the candidates `with_questions` can lift though they share no tag with the query."""
        following = self._links()[1][rows[self.holding(asking, rows)]]
        return following[following >= 0]

    def with_questions(
        self, rows: np.ndarray, lexical: np.ndarray, asking: str, weight: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each row's tag score, or `weight` times that of the turn before it where that turn
        holds `asking` (sketch.ASKS), whichever is higher; and whether the question's was. A
        reply answers its question without repeating its words ("When do you start at Cobalt
        Pay?" / "On the 13th of March"), so a query sharing the question's tags is about the
        reply too. A turn before that is not among `rows` counts as sharing none."""
        prev = self._links()[0][rows]
        linked = np.flatnonzero(prev >= 0)
        if weight <= 0 or not linked.size:
            return lexical, np.zeros(rows.size, dtype=bool)
        before = prev[linked]
        # each predecessor's tag score, looked up among the sorted rows (not a scope-sized array)
        by_row = np.argsort(rows, kind="stable")
        at = by_row[np.minimum(np.searchsorted(rows[by_row], before), rows.size - 1)]
        among = rows[at] == before
        asked = np.zeros(rows.size, dtype=np.float32)
        asked[linked] = weight * np.where(among, lexical[at], 0) * self.holding(asking, before)
        return np.maximum(lexical, asked), asked > lexical

    def last(self, session: str, n: int) -> list[str]:
        """Ids of `session`'s last `n` live engrams, oldest first."""
        prev, _ = self._links()
        return self._walk(prev, self._last_in_session.get(session, -1), n, frozenset())[::-1]

    def before(self, engram_id: str, n: int, skip: set[str] = frozenset()) -> list[str]:
        """Ids of the `n` live engrams of its session just before `engram_id`, oldest first,
        those in `skip` passed over."""
        prev, _ = self._links()
        return self._walk(prev, int(prev[self.pos[engram_id]]), n, skip)[::-1]

    def after(self, engram_id: str, n: int) -> list[str]:
        """Ids of the `n` live engrams of its session just after `engram_id`, oldest first."""
        _, following = self._links()
        return self._walk(following, int(following[self.pos[engram_id]]), n, frozenset())

    def _links(self) -> tuple[np.ndarray, np.ndarray]:
        if self._links_stale:
            self._relink()
        return self.prev, self.next

    def _walk(self, step: np.ndarray, at: int, n: int, skip: set[str]) -> list[str]:
        out: list[str] = []
        while at >= 0 and len(out) < n:
            if self.ids[at] not in skip:
                out.append(self.ids[at])
            at = int(step[at])
        return out
