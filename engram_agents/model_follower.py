"""A model in this process that follows a server's erasures: `RemoteMemory.attach_model`.

A server deletes engrams where a model in a client cannot be told (a person deletes a memory
in the web console, another agent calls `forget`). The follower reads each followed user's
erasure feed (`EngramMemory.erasures`, engram ids only) from a cursor and, when it holds
anything new, forgets from the model every fact of that model user that no active engram
states any more: the forgetting half of `consolidate_into_model`, without its consolidation or
training of new facts.

When: before each of the client's calls (so an answer that follows a recall never uses a fact
erased before that recall), after each of its own deletes, forgets and consolidations, and
every `poll_interval` seconds on a daemon thread (so a model that only generates forgets too).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from engram_agents.consolidation import statements
from engram_agents.errors import EngramError

if TYPE_CHECKING:
    from engram_agents.remote import RemoteMemory

log = logging.getLogger(__name__)


class ModelFollower:
    """Erasures on the server → `forget_many` on the attached models (see the module)."""

    def __init__(self, memory: RemoteMemory, poll_interval: float | None) -> None:
        self.memory = memory
        self.poll_interval = poll_interval
        self.models: dict[int, tuple[Any, dict[str, str]]] = {}  # id(lm) -> lm, store->model user
        self.cursors: dict[str, int] = {}  # store user -> position read up to in its feed
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def follow(self, lm: Any, model_users: dict[str, str]) -> None:
        """Follow the store users (mapped to the model users holding their facts) for `lm`,
        catching up with their whole feed at once."""
        with self._lock:
            self.models.setdefault(id(lm), (lm, {}))[1].update(model_users)
        self.sync()
        if self.poll_interval is not None and self._thread is None:
            self._thread = threading.Thread(target=self._poll, name="engram-erasures", daemon=True)
            self._thread.start()

    def sync(self) -> int:
        """Read every followed user's feed and forget what it erased; returns facts forgotten.
        The cursors move on only once the model has forgotten, so a failure retries it all."""
        with self._lock:
            users = {u for _, followed in self.models.values() for u in followed}
            cursors, changed = {}, set()
            for user in sorted(users):
                call = self.memory.erasures.call_of(self.memory, user, self.cursors.get(user, 0))
                feed = self.memory._fetch(call)
                cursors[user] = feed.cursor
                if feed.erasures:
                    changed.add(user)
            forgotten = self._forget_unbacked(changed) if changed else 0
            self.cursors |= cursors
            return forgotten

    def _forget_unbacked(self, changed: set[str]) -> int:
        forgotten = 0
        for lm, followed in self.models.values():
            for model_user in {followed[u] for u in changed if u in followed}:
                # The model's facts first, the store's after: a fact memorized meanwhile from a
                # newer list is not among `held`, so it is never forgotten by mistake.
                held = lm.facts(model_user)
                wanted: dict[str, Any] = {}
                for user in (u for u, m in followed.items() if m == model_user):
                    listed = self.memory._fetch(self.memory.list.call_of(self.memory, user))
                    wanted |= statements(listed)
                dropped = [f for f in held if f.identity() not in wanted]
                if dropped:
                    forgotten += lm.forget_many(dropped, model_user).facts
        return forgotten

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.sync()
            except EngramError as exc:  # the server is away: try again next interval
                log.warning("could not follow the server's erasures: %s", exc)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
