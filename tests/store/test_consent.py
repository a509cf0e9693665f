"""Consent: persistent memory can be switched off per user. While off, remember refuses with
ConsentError and stores nothing; what is stored stays readable and deletable; each change is in
the audit log and the choice survives reopening the store."""

from __future__ import annotations

import pytest

from engram_agents import ConsentError
from engram_agents.store.errors import InvalidInputError


def test_withdrawn_consent_refuses_new_memories_and_keeps_the_rest(make_memory):
    memory = make_memory()
    kept = memory.remember("the dentist appointment is on Tuesday at 3 pm", "u")
    assert memory.consent("u")
    memory.set_consent("u", False)
    before = memory.export("u")["engrams"]
    with pytest.raises(ConsentError, match="switched persistent memory off"):
        memory.remember("my new locker code is 4471", "u")
    with pytest.raises(ConsentError):
        memory.remember_many(["a", "b"], "u")
    with pytest.raises(ConsentError):  # saying it again would reinforce: refused as well
        memory.remember(kept.text, "u")
    assert memory.export("u")["engrams"] == before
    assert [h.engram.id for h in memory.recall("dentist", "u")] == [kept.id]
    memory.remember("someone else's note", "other")  # consent is per user
    reopened = make_memory()
    assert not reopened.consent("u") and reopened.consent("other")
    assert reopened.delete(kept.id, "u") == 1
    reopened.set_consent("u", True)
    assert reopened.remember("my new locker code is 4471", "u").text
    consents = [e.detail for e in reopened.store.backend.audit_events("u") if e.action == "consent"]
    assert consents == [{"remember": False}, {"remember": True}]
    assert reopened.verify_audit() > 0


def test_a_consent_change_between_read_and_write_is_honoured(memory):
    """A remember that read consent before it was withdrawn must not land: the withdrawal
    moves the user's revision, so the write is recomputed and then refused."""
    real = memory.store.backend.write
    fired: list[bool] = []

    def write(*args, **kwargs):
        if not fired:
            fired.append(True)
            memory.store.set_consent("u", False)
        return real(*args, **kwargs)

    memory.store.backend.write = write  # type: ignore[method-assign]
    with pytest.raises(ConsentError):
        memory.remember("the plumber comes on Monday", "u")
    assert memory.list("u") == []


def test_consent_takes_a_bool(memory):
    with pytest.raises(InvalidInputError, match="True or False"):
        memory.set_consent("u", "no")
    assert memory.consent("u")
