"""The shared ground of `EpisodicStore`'s parts (writer, ranker, consolidator, user control).

Every change is a read-compute-write whose write is conditional on the user's revision at the
read: if another handle or process changed the user's engrams in between (a delete, a duplicate
being stored), the write is refused and the whole step runs again on fresh rows. So a concurrent
delete is never undone by a stale copy, and dedupe is decided against the state that is written."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from itertools import compress
from typing import TypeVar

import numpy as np

from engram_agents.recent import Recent
from engram_agents.store import blas, device_search
from engram_agents.store.backends.base import Backend
from engram_agents.store.backends.touches import TouchBuffer
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.copies import CopyIndex
from engram_agents.store.crypto import Cipher
from engram_agents.store.encoders import Encoder
from engram_agents.store.errors import (
    ConflictError,
    ConsentError,
    EncryptionError,
    InvalidInputError,
    NotFoundError,
)
from engram_agents.store.index import ScopeIndex
from engram_agents.store.passages import Passages, encode_turns
from engram_agents.store.query_vectors import QueryVectors
from engram_agents.store.records import Engram, RecallFilters
from engram_agents.store.rows import TAGS_PER_USER, AuditEvent, Codec, EngramRow
from engram_agents.store.sentences import payload_text, sentence_table, static_query
from engram_agents.store.sketch import HOLDS, SAID_BY_MODEL, SAID_BY_USER
from engram_agents.store.static_vectors import static_vectors

T = TypeVar("T")
# recalled hits whose features feedback can still learn from, all users together (~0.3 KB each)
RECALLED_FEATURES = 20_000
_ATTEMPTS = 50  # conflicting writers each lose at most once per write that lands, so this is ample


class StoreCore:
    """What the store's parts share: the backend, codec, per-user index cache and lock, and
    the conditional write every change goes through."""

    def __init__(
        self,
        backend: Backend,
        encoder: Encoder,
        config: StoreConfig | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        self.encoder = encoder
        self.config = config or StoreConfig()
        cfg = self.config
        self._search_device = device_search.resolve(cfg.search_device)  # refused before any write
        blas.limit_threads(cfg.blas_threads)
        if cfg.touch_flush_s:  # recall's access counts and audit entries are written behind
            backend = TouchBuffer(backend, cfg.touch_flush_s, cfg.touch_buffer)
        self.backend = backend
        self.codec = Codec(cipher)
        self._indexes: dict[str, ScopeIndex] = {}
        self._copies: dict[str, CopyIndex] = {}
        # each recalled hit's fusion features, for feedback on it: (user, id) -> features
        self._last_features: Recent[tuple[str, str], np.ndarray] = Recent(RECALLED_FEATURES)
        self._erase_hooks: dict[str, Callable[[str, list[Engram]], dict[str, int]]] = {}
        self._settings: dict[str, tuple[int, dict[str, str | None]]] = {}  # user: (rev, values)
        self._lock = threading.RLock()
        self._static = static_vectors(encoder) if cfg.passage_vectors == "static" else None
        self._sentences = sentence_table(encoder, cfg.sentence_weight)
        self.query_vectors = QueryVectors(encoder, cfg.query_cache)
        self._check_key(cipher)
        self._check_passage_vectors()

    def encode_turns(self, texts: list[str]) -> tuple[np.ndarray, list[Passages]]:
        """The texts' vectors and passages as this store's config reads them."""
        cfg = self.config
        return encode_turns(
            self.encoder, texts, cfg.passage_tokens, self._static, cfg.long_turn_tokens
        )

    def passage_query(self, query: str, qvec: np.ndarray) -> np.ndarray:
        """The query as the stored passages are compared with it: its vector, or its static
        vector when passages are static."""
        if self._static is None:
            return qvec
        return static_query(self.encoder, self._static, query)

    def _check_key(self, cipher: Cipher | None) -> None:
        stored = self.backend.setting("", "cipher")
        if stored is None and cipher is not None:
            if self.backend.has_rows():
                raise EncryptionError(
                    "this store holds unencrypted engrams, so an encryption key cannot be used "
                    "with it (nothing was changed): open it without encryption_key (and unset "
                    "ENGRAM_ENCRYPTION_KEY), or encrypt it first with "
                    "EngramMemory.encrypt_store(path, key)"
                )
            scheme = {("", "cipher"): cipher.fingerprint, ("", "tag_keys"): TAGS_PER_USER}
            self.backend.write([], [], [], set(), scheme)
        elif stored is not None and cipher is None:
            raise EncryptionError(
                "this store is encrypted: pass encryption_key= or set ENGRAM_ENCRYPTION_KEY"
            )
        elif stored is not None and cipher is not None and stored != cipher.fingerprint:
            raise EncryptionError("wrong encryption key for this store")
        # Stores encrypted before per-user tag keys keep their one store-wide tag key (until
        # `EngramMemory.key_tags_per_user` re-hashes them).
        self.codec.per_user_tags = self.backend.setting("", "tag_keys") == TAGS_PER_USER

    def _check_passage_vectors(self) -> None:
        """Passages stored as static vectors are scored as such, so a store keeps the setting
        it was first written with ("model" unless recorded) and refuses the other."""
        wanted = self.config.passage_vectors
        stored = self.backend.setting("", "passage_vectors")
        if stored is None and wanted == "static" and not self.backend.has_rows():
            self.backend.write([], [], [], set(), {("", "passage_vectors"): "static"})
            return
        if (stored or "model") != wanted:
            raise InvalidInputError(
                f"this store's passages were written with passage_vectors={stored or 'model'!r}, "
                f"so it cannot be opened with passage_vectors={wanted!r} (nothing was changed)"
            )

    def _setting(self, user_id: str, key: str, revision: int | None = None) -> str | None:
        """A user's setting. Given `revision` (the user's, just read), a value read at that
        revision is reused, sparing recall and remember a read each: every change of a user's
        setting is a `_commit`, which moves the revision (and revisions never go back)."""
        cached = self._settings.get(user_id)
        if cached is not None and cached[0] != revision:
            cached = None
        if cached is not None and key in cached[1]:
            return cached[1][key]
        value = self.codec.open_setting(user_id, key, self.backend.setting(user_id, key))
        if revision is not None:
            if cached is None:
                self._settings[user_id] = cached = (revision, {})
            cached[1][key] = value
        return value

    def _index(self, user_id: str, revision: int | None = None) -> ScopeIndex:
        """The user's index at `revision` (read now unless the caller just read it)."""
        if revision is None:
            revision = self.backend.revision(user_id)
        index = self._indexes.get(user_id)
        if index is None or index.revision != revision:
            marks = frozenset(
                self.codec.index_tags([SAID_BY_USER, SAID_BY_MODEL, *HOLDS.values()], user_id)
            )
            index = ScopeIndex(self.encoder.dim, revision, self._search_device, marks)
            rows = list(self.backend.scan(user_id))
            index.upsert(rows)
            self._read_sentences(index, rows)
            self._indexes[user_id] = index
            if user_id in self._copies:  # erases happen here: renew it from the same read
                self._copies[user_id] = CopyIndex.of(rows, revision, self.codec)
        return index

    def _read_sentences(self, index: ScopeIndex, rows: list[EngramRow]) -> None:
        """The sentences of the rows just put in `index` (turns without passages), read from
        their text: derived at each load and write, so nothing about them is stored."""
        if self._sentences is None:
            return
        at = np.fromiter((index.pos[r.id] for r in rows), np.int64, len(rows))
        short = index.passages.count[at] == 0
        texts = [payload_text(self.codec.plain(r)) for r in compress(rows, short.tolist())]
        index.sentences.read(self.encoder, self._sentences, at[short], texts)

    def _copy_index(self, user_id: str, index: ScopeIndex) -> CopyIndex:
        """Who holds copies of whose text, at the revision of `index`: one read of the user's
        rows on first use, then renewed with the index (after another handle's write) and
        patched after this process's own writes."""
        copies = self._copies.get(user_id)
        if copies is None or copies.revision != index.revision:
            copies = CopyIndex.of(self.backend.scan(user_id), index.revision, self.codec)
            self._copies[user_id] = copies
        return copies

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run a read-compute-write until its conditional write lands. A `ConflictError` means
        another writer changed the user's engrams after `attempt` read them: read again."""
        for n in range(_ATTEMPTS - 1):
            try:
                with self._lock:
                    return attempt()
            except ConflictError:
                time.sleep(random.uniform(0.0, min(0.05, 0.001 * 2**n)))
        with self._lock:  # the last try lets its ConflictError reach the caller
            return attempt()

    def _commit(
        self,
        user_id: str,
        read_at: int,
        upserts: list[EngramRow],
        deletes: list[str],
        events: list[AuditEvent],
        settings: dict[tuple[str, str], str] | None = None,
    ) -> None:
        """Persist in one transaction if the user's revision is still `read_at` (the revision
        read before the rows this write was computed from), then patch the cached index, and
        carry the settings read at `read_at` over to the new revision (but those it wrote)."""
        index = self._indexes.get(user_id)
        before = index.revision if index else None
        sealed = {k: self.codec.seal_setting(*k, v) for k, v in (settings or {}).items()}
        revision = self.backend.write(
            upserts, deletes, events, {user_id}, sealed, expect={user_id: read_at}
        )[user_id]
        if index is not None and before == revision - 1:
            index.remove(deletes)
            index.upsert(upserts)
            self._read_sentences(index, upserts)
            index.revision = revision
        else:
            self._indexes.pop(user_id, None)
        cached = self._settings.get(user_id)
        if cached is not None and cached[0] == revision - 1:  # this write is all that changed
            kept = {k: v for k, v in cached[1].items() if (user_id, k) not in sealed}
            self._settings[user_id] = (revision, kept)
        copies = self._copies.get(user_id)
        if copies is not None and copies.revision == revision - 1:
            copies.update(upserts, deletes, self.codec)
            copies.revision = revision
        else:
            self._copies.pop(user_id, None)

    def _engrams(self, user_id: str, ids: Iterable[str], *, listed: bool = False) -> list[Engram]:
        """The engrams of `ids`. A missing one is unknown to the user (NotFoundError), or, for
        ids the index just `listed`, deleted since by another writer (ConflictError: retry)."""
        ids = list(ids)
        rows = self.backend.get(user_id, ids)
        missing = set(ids) - {r.id for r in rows}
        if missing and listed:
            raise ConflictError(f"user {user_id!r} changed while reading")
        if missing:
            raise NotFoundError(f"no engram {sorted(missing)[0]!r} for user {user_id!r}")
        return [self.codec.to_engram(r) for r in rows]

    def _vectors(self, user_id: str, ids: list[str]) -> np.ndarray:
        """Stored vectors of rows just read; a row deleted since then means a retry."""
        index = self._index(user_id)
        if not set(ids) <= index.pos.keys():
            raise ConflictError(f"user {user_id!r} changed while reading")
        return index.vectors_of(ids)

    def _mask(self, user_id: str, index: ScopeIndex, filters: RecallFilters) -> np.ndarray:
        return index.mask(filters, self.codec.index_tags(filters.tags, user_id))

    def _listed(self, user_id: str, filters: RecallFilters) -> list[Engram]:
        """The user's engrams that pass `filters`, oldest first."""
        with self._lock:
            index = self._index(user_id)
            ids = [index.ids[i] for i in np.flatnonzero(self._mask(user_id, index, filters))]
        engrams = [self.codec.to_engram(r) for r in self.backend.get(user_id, ids)]
        engrams.sort(key=lambda e: (e.metadata.created_at, e.id))
        return engrams

    def weights(self, user_id: str, revision: int | None = None) -> FusionWeights:
        stored = self._setting(user_id, "fusion_weights", revision)
        if not stored:
            return self.config.weights
        # weights learned before a signal existed take that signal's configured weight
        learned = FusionWeights.model_validate_json(stored).model_dump(exclude_unset=True)
        return self.config.weights.model_copy(update=learned)

    def consent(self, user_id: str, revision: int | None = None) -> bool:
        """Whether persistent memory is on for the user (it is unless they switched it off)."""
        return self._setting(user_id, "consent", revision) != "withdrawn"

    def set_consent(self, user_id: str, remember: bool) -> None:
        """Switch persistent memory on or off for the user; the change is in the audit log.
        Off: `remember` raises `ConsentError`; what is stored stays readable and deletable."""
        self._retrying(lambda: self._set_consent(user_id, remember))

    def _set_consent(self, user_id: str, remember: bool) -> None:
        read_at = self.backend.revision(user_id)
        event = AuditEvent(user_id, "consent", [], {"remember": remember})
        value = "granted" if remember else "withdrawn"
        self._commit(user_id, read_at, [], [], [event], {(user_id, "consent"): value})

    def _check_consent(self, user_id: str, revision: int | None = None) -> None:
        if not self.consent(user_id, revision):
            raise ConsentError(
                f"user {user_id!r} switched persistent memory off, so nothing new is remembered "
                "(recall, export, delete and forget still work); "
                f"set_consent({user_id!r}, True) switches it back on"
            )
