"""EncodeBatcher: concurrent encode calls are served in one batch, each caller gets its own rows
(the rows encoding alone gives, for an encoder whose rows do not depend on their batch mates),
a bad input fails only its own caller, and the store stays consistent when its recalls and
writes are batched."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.batching import EncodeBatcher
from engram_agents.store.encoders import HashingEncoder

TEXTS = [f"note {n} about the dog and the dentist {'and more ' * n}" for n in range(12)]


class Recording:
    """A hashing encoder that logs each batch it sees; its first call waits for `release`, so
    the calls behind it queue up deterministically."""

    def __init__(self) -> None:
        self.inner = HashingEncoder(dim=64)
        self.batches: list[list[str]] = []
        self.release = threading.Event()

    def __call__(self, texts: list[str]) -> np.ndarray:
        if not self.batches:
            self.release.wait(timeout=60)
        self.batches.append(list(texts))
        if any("boom" in t for t in texts):
            raise ValueError("cannot encode boom")
        return self.inner.encode(texts)


def _queued(batcher: EncodeBatcher, n: int) -> None:
    """Wait (no timing asserted) until `n` calls are queued behind the running one."""
    for _ in range(6000):
        with batcher._lock:
            if len(batcher._queue) == n:
                return
        time.sleep(0.005)
    raise AssertionError("the calls did not queue")


def _run_concurrently(batcher: EncodeBatcher, recording: Recording, inputs: list[list[str]]):
    results: dict[int, object] = {}

    def call(i: int) -> None:
        try:
            results[i] = batcher(inputs[i])
        except Exception as exc:
            results[i] = exc

    first = threading.Thread(target=call, args=(0,))
    first.start()
    while not recording.batches and not batcher._busy:
        time.sleep(0.001)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, len(inputs))]
    for t in others:
        t.start()
    _queued(batcher, len(inputs) - 1)
    recording.release.set()
    for t in [first, *others]:
        t.join(timeout=60)
    return results


def test_waiting_calls_are_encoded_in_one_batch_and_each_gets_its_own_rows():
    recording = Recording()
    batcher = EncodeBatcher(recording)
    inputs = [[TEXTS[0]], [TEXTS[1], TEXTS[2]], [TEXTS[3]], [TEXTS[4], TEXTS[5], TEXTS[6]]]
    results = _run_concurrently(batcher, recording, inputs)
    assert len(recording.batches) == 2  # the first call alone, then all the waiting ones
    assert recording.batches[0] == inputs[0]
    assert sorted(recording.batches[1]) == sorted(t for i in inputs[1:] for t in i)
    alone = HashingEncoder(dim=64)
    for i, texts in enumerate(inputs):
        np.testing.assert_array_equal(results[i], alone.encode(texts))


def test_a_bad_input_in_a_batch_fails_only_its_own_caller():
    recording = Recording()
    batcher = EncodeBatcher(recording)
    inputs = [[TEXTS[0]], [TEXTS[1]], ["boom"], [TEXTS[2], TEXTS[3]]]
    results = _run_concurrently(batcher, recording, inputs)
    assert isinstance(results[2], ValueError) and "boom" in str(results[2])
    alone = HashingEncoder(dim=64)
    for i in (0, 1, 3):
        np.testing.assert_array_equal(results[i], alone.encode(inputs[i]))
    assert batcher(["after"]).shape == (1, 64)  # and the batcher still works


def test_alone_a_call_runs_at_once():
    recording = Recording()
    recording.release.set()
    batcher = EncodeBatcher(recording)
    assert batcher([TEXTS[0]]).shape == (1, 64) and recording.batches == [[TEXTS[0]]]


def test_many_threads_each_get_their_own_rows_and_none_is_left_waiting():
    """The encode passes from caller to caller (`_hand_on`): under steady contention every
    call is served, with its own rows, and calls are merged."""
    batches: list[int] = []
    plain = HashingEncoder(dim=64)

    def encode(texts: list[str]) -> np.ndarray:
        batches.append(len(texts))
        time.sleep(0.001)  # a model's cost, so calls overlap
        return plain.encode(texts)

    batcher = EncodeBatcher(encode)
    failures: list[str] = []

    def caller(n: int) -> None:
        for i in range(100):
            texts = TEXTS[(n + i) % len(TEXTS) :][: 1 + i % 3]
            if not np.array_equal(batcher(texts), plain.encode(texts)):
                failures.append(f"thread {n} call {i}")

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and not failures
    assert not batcher._busy and not batcher._queue
    assert max(batches) > 3 and len(batches) < 1600  # merged, not one encode per call


class BatchedHashing(HashingEncoder):
    """A hashing encoder behind an EncodeBatcher, like the embedded MiniLM."""

    def __init__(self) -> None:
        super().__init__(dim=256)
        self.batches = 0
        self._batched = EncodeBatcher(self._encode)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._batched(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.batches += 1
        time.sleep(0.002)  # a model's cost, so calls overlap and batch
        return super().encode(texts)


def test_concurrent_recalls_and_writes_through_a_batched_encoder_lose_nothing(tmp_path):
    encoder = BatchedHashing()
    memory = EngramMemory(tmp_path / "m.db", encoder=encoder)
    reference = EngramMemory(tmp_path / "ref.db", encoder=HashingEncoder(dim=256))
    memory.remember_many(TEXTS, "u")
    reference.remember_many(TEXTS, "u")
    written: list[str] = []

    def worker(n: int) -> None:
        for i in range(6):
            stored = memory.remember(f"worker {n} fact {i} about the garden", "u")
            written.append(stored.id)
            hits = memory.recall("what about the dog?", "u", k=3)
            want = reference.recall("what about the dog?", "u", k=3)
            assert hits and {h.engram.text for h in hits} <= set(TEXTS) | {
                f"worker {m} fact {j} about the garden" for m in range(8) for j in range(6)
            }
            assert hits[0].similarity == pytest.approx(want[0].similarity, abs=1e-6)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stored = {e.id for e in memory.list("u", include_superseded=True)}
    assert set(written) <= stored and len(written) == 48
    assert memory.verify_audit() > 48


def test_the_embedded_minilm_batches_concurrent_queries_close_to_encoding_alone(minilm):
    """int8 activations are quantized per batch, so a batched row moves a little from the row
    encoded alone (as in any `remember_many`); it stays the same text's vector."""
    queries = [f"what did I say about the {t}?" for t in ("dog", "dentist", "flight", "tea")] * 4
    alone = np.vstack([minilm.encode([q]) for q in queries])
    out: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        out[i] = minilm.encode([queries[i]])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    together = np.vstack([out[i] for i in range(len(queries))])
    assert together.shape == alone.shape
    assert (together * alone).sum(1).min() > 0.98
    assert ((together @ alone.T).argmax(1) % 4 == np.arange(len(queries)) % 4).all()
