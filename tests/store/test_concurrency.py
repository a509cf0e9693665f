"""Concurrent writers cannot resurrect a delete or store a duplicate: every change is written only
if the user's engrams are as the writer read them, and is recomputed otherwise."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.encoders import HashingEncoder
from engram_agents.store.errors import NotFoundError

WORDS = (
    "amber birch cobalt dune ember fjord garnet heron indigo juniper kelp lichen maple nutmeg "
    "onyx pepper quartz raven saffron thistle umber violet willow xenon yarrow zinnia"
).split()
TEXTS = [f"{WORDS[i % 26]} {WORDS[(i * 7 + 3) % 26]} note number {i}" for i in range(30)]


def _delete_before_next_write(a: EngramMemory, b: EngramMemory, engram_id: str) -> None:
    """Make handle `b` delete the engram right after `a` read it, before `a` writes (once)."""
    real = a.store.backend.write
    fired: list[bool] = []

    def write(*args, **kwargs):
        if not fired:
            fired.append(True)
            b.delete(engram_id, "u")
        return real(*args, **kwargs)

    a.store.backend.write = write  # type: ignore[method-assign]


RACES: dict[str, Callable[[EngramMemory, str, str], object]] = {
    "update": lambda a, engram_id, text: a.update(engram_id, "u", text="moved to Friday"),
    "feedback": lambda a, engram_id, text: a.feedback(engram_id, "u", useful=True),
    "reinforce": lambda a, engram_id, text: a.remember(text, "u"),
    "consolidate": lambda a, engram_id, text: a.consolidate("u"),
}


@pytest.mark.parametrize("verb", list(RACES))
def test_a_concurrent_delete_is_never_undone(make_memory, verb):
    a, b = make_memory(), make_memory()
    x = a.remember("the dentist is on Tuesday at 3 pm", "u")
    other = a.remember("the plumber comes on Monday", "u")
    _delete_before_next_write(a, b, x.id)
    try:
        outcome = RACES[verb](a, x.id, x.text)
    except NotFoundError as exc:  # update and feedback of a deleted engram say so
        assert verb in ("update", "feedback")
        assert x.id in str(exc)
    else:
        assert verb in ("reinforce", "consolidate")
        if verb == "reinforce":  # said again after the delete: a new engram holds it
            assert outcome.id != x.id and outcome.text == x.text
    for handle in (a, b, make_memory()):
        with pytest.raises(NotFoundError):
            handle.get(x.id, "u")
        ids = {e.id for e in handle.list("u", include_superseded=True)}
        assert x.id not in ids and other.id in ids
    assert a.verify_audit() == b.verify_audit()


def _write_all(path: str, start: multiprocessing.synchronize.Barrier) -> None:
    mem = EngramMemory(path, encoder=HashingEncoder(dim=64))
    start.wait()
    for text in TEXTS:
        mem.remember(text, "u")
    mem.close()


def _delete_all(path: str, ids: list[str], start) -> None:
    mem = EngramMemory(path, encoder=HashingEncoder(dim=64))
    start.wait()
    for engram_id in ids:
        mem.delete(engram_id, "u")


def _change_all(path: str, ids: list[str], start) -> None:
    mem = EngramMemory(path, encoder=HashingEncoder(dim=64))
    start.wait()
    for round_ in range(3):
        for n, engram_id in enumerate(ids):
            try:
                if n % 3 == 0:
                    mem.update(engram_id, "u", metadata={"round": round_})
                elif n % 3 == 1:
                    mem.feedback(engram_id, "u", useful=bool(round_ % 2))
                else:
                    mem.remember(TEXTS[n], "u")  # reinforces while the engram exists
            except NotFoundError:
                pass
        mem.consolidate("u")


def _run(*targets: tuple[Callable, tuple]) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(len(targets))
    procs = [ctx.Process(target=fn, args=(*args, start)) for fn, args in targets]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * len(procs)


@pytest.mark.adversarial
def test_processes_writing_the_same_texts_store_each_once(tmp_path):
    path = str(tmp_path / "m.db")
    EngramMemory(path, encoder=HashingEncoder(dim=64)).close()  # schema first
    _run(*[(_write_all, (path,))] * 4)
    mem = EngramMemory(path, encoder=HashingEncoder(dim=64))
    engrams = mem.list("u", include_superseded=True)
    assert sorted(e.text for e in engrams) == sorted(TEXTS)
    # each text was said four times: stored once, reinforced three times, no reinforce lost
    assert [e.stats.activations for e in engrams] == [3] * len(TEXTS)
    mem.verify_audit()


@pytest.mark.adversarial
def test_processes_racing_changes_against_deletes_resurrect_nothing(tmp_path):
    path = str(tmp_path / "m.db")
    mem = EngramMemory(path, encoder=HashingEncoder(dim=64))
    ids = [e.id for e in mem.remember_many(TEXTS, "u")]
    _run((_delete_all, (path, ids)), (_change_all, (path, ids)))
    alive = {e.id for e in mem.list("u", include_superseded=True)}
    assert alive.isdisjoint(ids)
    mem.verify_audit()


def test_a_write_that_keeps_conflicting_gives_up_with_our_error(memory, monkeypatch):
    from engram_agents.store import core as store_module
    from engram_agents.store.errors import ConflictError

    x = memory.remember("the dentist is on Tuesday at 3 pm", "u")
    monkeypatch.setattr(store_module, "_ATTEMPTS", 3)
    monkeypatch.setattr(memory.store.backend, "revision", lambda user_id: -1)  # always stale
    with pytest.raises(ConflictError, match="user 'u' changed during this write"):
        memory.update(x.id, "u", text="moved to Friday")
    monkeypatch.undo()
    assert [e.text for e in memory.list("u")] == [x.text]
