"""User control: get, list, update's counterpart delete, forget (erasing every copy of
the text), export and the audit check."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from engram_agents.store import erasure, referents
from engram_agents.store.audit import verify
from engram_agents.store.copies import erased_keys
from engram_agents.store.core import StoreCore
from engram_agents.store.errors import InvalidInputError, NotFoundError
from engram_agents.store.index import ScopeIndex
from engram_agents.store.records import Engram, RecallFilters, TimeRange, utcnow
from engram_agents.store.referents import REACH
from engram_agents.store.rows import AuditEvent


class UserControl(StoreCore):
    """The user's rights over their engrams: read, list, delete, forget, export, audit."""

    def get(self, user_id: str, engram_id: str) -> Engram:
        engram = self._engrams(user_id, [engram_id])[0]
        self.backend.append_audit([AuditEvent(user_id, "get", [engram_id])])
        return engram

    def list(
        self,
        user_id: str,
        filters: RecallFilters | None = None,
        include_superseded: bool = False,
        log: bool = True,
    ) -> list[Engram]:
        """The user's engrams, oldest first (optionally filtered like recall)."""
        filters = filters or RecallFilters(include_superseded=include_superseded)
        engrams = self._listed(user_id, filters)
        if log:
            self.backend.append_audit([AuditEvent(user_id, "list", [], {"count": len(engrams)})])
        return engrams

    def delete(self, user_id: str, ids: Iterable[str]) -> int:
        """Hard delete: record, vector and tag index entries. All ids must exist (else nothing
        is deleted)."""
        ids = list(dict.fromkeys(ids))  # EngramMemory.delete refused an empty list
        erased = self._retrying(lambda: self._erase(user_id, "delete", set(ids)))
        self._after_erase(user_id, erased)
        return len(erased.deleted)

    def forget(
        self,
        user_id: str,
        *,
        session_id: str | None = None,
        tags: list[str] | None = None,
        time_range: TimeRange | None = None,
        everything: bool = False,
    ) -> int:
        """Hard-delete every engram matching the selectors (superseded versions included), and
        with `session_id` every statement of that session folded into other engrams (see
        `erasure`). Returns how many engrams were deleted or lost a statement of the session."""
        if not (session_id or tags or time_range or everything):
            raise InvalidInputError(
                "forget needs a selector: session_id, tags, time_range or everything=True"
            )
        # The session is matched statement by statement in `erasure.plan`, not as a row filter.
        filters = RecallFilters(tags=tags or [], time_range=time_range, include_superseded=True)
        erased = self._retrying(lambda: self._erase(user_id, "forget", filters, session_id))
        self._after_erase(user_id, erased)
        return len(erased.deleted) + len(erased.partial)

    def on_erase(self, key: str, hook: Callable[[str, list[Engram]], dict[str, int]]) -> None:
        """Call `hook(user_id, engrams)` after each delete or forget with the engrams whose text
        went (or changed), so copies kept elsewhere (the model's tables) go too; it returns what
        it removed (counts by kind, empty for nothing), which the audit log records. One hook
        per key."""
        self._erase_hooks[key] = hook

    def _erase(
        self,
        user_id: str,
        action: str,
        select: set[str] | RecallFilters,
        session_id: str | None = None,
    ) -> erasure.Erasure:
        """Delete the selected engrams and every copy of their text in the user's other
        engrams, in one conditional write."""
        index = self._index(user_id)
        read_at = index.revision
        if isinstance(select, set):
            missing = sorted(select - index.pos.keys())
            if missing:
                raise NotFoundError(f"no engram {missing[0]!r} for user {user_id!r}")
            selected = select
        else:
            selected = {index.ids[i] for i in np.flatnonzero(self._mask(user_id, index, select))}
        if not selected:
            return erasure.Erasure()
        chosen = self._engrams(user_id, selected, listed=True)
        # Only engrams the copy index names can hold a copy of the erased text or id.
        keys = set().union(*(erased_keys(e, session_id) for e in chosen))
        holders = self._copy_index(user_id, index).holders(keys) - selected
        holding = self._engrams(user_id, holders, listed=True)
        plan = erasure.plan([*chosen, *holding], selected, session_id)
        self._unrefer(user_id, index, plan)
        if not plan.deleted and not plan.rewritten:
            return plan
        vectors = dict(
            zip(plan.rewritten, self._vectors(user_id, list(plan.rewritten)), strict=True)
        )
        passages = {}
        if plan.retexted:  # a scrubbed text is read again, passages and all
            texts = [plan.rewritten[i].text for i in plan.retexted]
            fresh, fresh_passages = self.encode_turns(texts)
            vectors.update(zip(plan.retexted, fresh, strict=True))
            passages.update(zip(plan.retexted, fresh_passages, strict=True))
        upserts = [
            self.codec.to_row(e, vectors[i], passages.get(i)) for i, e in plan.rewritten.items()
        ]
        events = [AuditEvent(user_id, action, list(plan.deleted))]
        if plan.rewritten:
            events.append(AuditEvent(user_id, "scrub", list(plan.rewritten)))
        self._commit(user_id, read_at, upserts, list(plan.deleted), events)
        return plan

    def _unrefer(self, user_id: str, index: ScopeIndex, plan: erasure.Erasure) -> None:
        """The kept turns up to `REACH` after an erased one that named someone read the names
        they refer to again from the turns left before them (store.referents), so none of the
        erased text's names stays in their sketches. Reads only those turns and the `REACH`
        kept ones before each: the work does not grow with the session."""
        gone = set(plan.deleted)
        after = dict.fromkeys(
            i
            for engram in plan.deleted.values()
            if engram.scope.session_id is not None
            and (near := [i for i in index.after(engram.id, REACH) if i not in gone])
            and referents.named(engram)
            for i in near
        )
        windows = {i: index.before(i, REACH, skip=gone) for i in after}
        ids = {*after, *(i for window in windows.values() for i in window)}
        read = {e.id: e for e in self._engrams(user_id, ids, listed=True)} if ids else {}
        current = {i: plan.rewritten.get(i, e) for i, e in read.items()}
        for engram_id, earlier in windows.items():
            engram = current[engram_id]
            sketch = referents.reread(engram, [current[i] for i in earlier])
            if sketch != engram.sketch:
                plan.before.setdefault(engram_id, read[engram_id])
                plan.rewritten[engram_id] = engram.model_copy(update={"sketch": sketch})

    def _after_erase(self, user_id: str, plan: erasure.Erasure) -> None:
        """Once the erase is committed: empty the WAL (it still holds the old pages) and let
        the hooks remove the text from where else it lives, each removal logged."""
        if not plan.deleted and not plan.rewritten:
            return
        self.backend.checkpoint()
        self.query_vectors.clear()  # the recent queries' texts, which may quote what went
        gone = plan.gone()
        for hook in list(self._erase_hooks.values()):
            if removed := hook(user_id, gone):
                ids = [e.id for e in gone]
                self.backend.append_audit([AuditEvent(user_id, "forget_in_model", ids, removed)])

    def export(self, user_id: str) -> dict[str, Any]:
        """Everything stored for the user as JSON-ready data, with the user's audit trail."""
        engrams = self._listed(user_id, RecallFilters(include_superseded=True))
        self.backend.append_audit([AuditEvent(user_id, "export", [], {"count": len(engrams)})])
        events = self.backend.audit_events(user_id)
        return {
            "user_id": user_id,
            "exported_at": utcnow().isoformat(),
            "engrams": [json.loads(e.model_dump_json()) for e in engrams],
            "audit": [
                {"seq": e.seq, "ts": e.ts, "action": e.action, "engram_ids": e.engram_ids}
                for e in events
            ],
        }

    def verify_audit(self) -> int:
        """Check the audit log's hash chain; return its length or raise AuditIntegrityError."""
        return verify(self.backend.audit_events())
