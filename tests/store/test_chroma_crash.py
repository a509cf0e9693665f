"""A Chroma write interrupted between any two of its calls leaves an audit chain that verifies
and rows that are each either as before or as after (see the chroma backend's docstring)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from chromadb.api.models.Collection import Collection

from engram_agents.memory import EngramMemory
from engram_agents.store.errors import BackendUnavailableError

WRITES = ("add", "upsert", "update", "delete")


class Crash(RuntimeError):
    pass


def _crash_after(monkeypatch: pytest.MonkeyPatch, calls: int) -> list[str]:
    """Let `calls` Chroma write calls through, then fail every later one (the process 'dies')."""
    made: list[str] = []
    for name in WRITES:
        real = getattr(Collection, name)

        def wrapper(self, *args, _real=real, _name=name, **kwargs):
            if len(made) >= calls:
                raise Crash(f"crash before {_name} of {self.name}")
            made.append(f"{_name} {self.name}")
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(Collection, name, wrapper)
    return made


OPS: dict[str, Callable[[EngramMemory, str], object]] = {
    "remember": lambda m, x: m.remember("the plumber comes on Monday", "u"),
    "update": lambda m, x: m.update(x, "u", text="the dentist moved to Friday at 9"),
    "feedback": lambda m, x: m.feedback(x, "u"),
    "delete": lambda m, x: m.delete(x, "u"),
    "consolidate": lambda m, x: m.consolidate("u"),
}


@pytest.mark.adversarial
@pytest.mark.parametrize("op", list(OPS))
def test_chroma_write_survives_a_crash_between_any_two_calls(tmp_path, hashing, op):
    calls = 0
    while True:  # crash after 0, 1, 2, ... calls until the write completes
        collection = f"crash{op}{calls}"

        def open_store(collection: str = collection) -> EngramMemory:
            return EngramMemory.chroma(tmp_path / "db", collection=collection, encoder=hashing)

        mem = open_store()
        x = mem.remember("the dentist is on Tuesday at 3 pm", "u")
        before = {e.id: e.text for e in mem.list("u", include_superseded=True)}
        with pytest.MonkeyPatch.context() as patch:
            made = _crash_after(patch, calls)
            try:
                OPS[op](mem, x.id)
                finished = True
            except BackendUnavailableError as exc:
                assert "crash before" in str(exc)
                finished = False
        reopened = open_store()
        assert reopened.verify_audit() >= 2
        after = {e.id: e.text for e in reopened.list("u", include_superseded=True)}
        last = reopened.store.backend.audit_events("u")[-2]  # [-1] is the list just above
        if op == "remember":
            assert x.id in after and len(after) in (1, 2)
        elif op == "update":
            assert after[x.id] in (x.text, "the dentist moved to Friday at 9")
            if last.action == "update":  # the log never names a change that did not happen
                assert after[x.id] == "the dentist moved to Friday at 9"
        elif op == "delete":
            assert after in (before, {})
            if last.action == "delete":
                assert after == {}
        else:
            assert after == before
        # the next write after the crash extends the chain cleanly
        reopened.remember(f"after a crash at call {calls}", "u")
        assert reopened.verify_audit() >= 3
        if finished:
            assert calls == len(made) and calls >= 2  # at least the rows and the audit entry
            break
        calls += 1


@pytest.mark.adversarial
def test_chroma_server_killed_mid_write_keeps_a_verifying_chain(tmp_path, hashing, chroma_launcher):
    start, free_port = chroma_launcher
    port = free_port()
    server = start(tmp_path / "server", port)
    acknowledged: list[str] = []
    try:
        for kill_after_s in (0.4, 0.9):
            mem = EngramMemory.chroma(
                host="127.0.0.1", port=port, collection="kills", encoder=hashing
            )
            killer = threading.Timer(kill_after_s, server.kill)
            killer.start()
            with pytest.raises(BackendUnavailableError):
                for i in range(100_000):
                    n = len(acknowledged)
                    acknowledged.append(
                        mem.remember(f"note {n} round {i} kill {kill_after_s}", "u").id
                    )
            server.wait()
            server = start(tmp_path / "server", port)
        mem = EngramMemory.chroma(host="127.0.0.1", port=port, collection="kills", encoder=hashing)
        assert set(acknowledged) <= {e.id for e in mem.list("u")}
        mem.remember("after the kills", "u")
        assert mem.verify_audit() >= len(acknowledged)
    finally:
        server.kill()
        server.wait()
