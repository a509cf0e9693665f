"""Delete means gone everywhere: the text of a deleted or forgotten engram leaves every other
engram's history, the SQLite file and WAL, exports, and the user's model tables and delta file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_concurrency import _run  # the spawn-and-barrier runner of the race tests

from engram_agents import EngramMemory, TrainConfig
from engram_agents.consolidation import consolidate_into_model
from engram_agents.store.encoders import HashingEncoder
from engram_agents.store.errors import NotFoundError

MARK = "zqxv7731"  # a word no other text holds, so its bytes can be searched for
QUICK = TrainConfig(epochs=2, batch_size=8, min_steps=1)


def _texts(memory: EngramMemory, user_id: str = "u") -> str:
    """Everything `export` returns for the user, as one string."""
    return str(memory.export(user_id)["engrams"])


def _files_holding(folder: Path, needle: str) -> list[str]:
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and needle.encode() in p.read_bytes()
    )


def test_forgetting_a_session_takes_out_the_reinforcement_it_made(make_memory):
    memory = make_memory()
    kept = memory.remember(f"the gym locker code is {MARK} 4471", "u", session_id="s1")
    again = memory.remember(f"the gym locker code is {MARK} 4471", "u", session_id="s2")
    assert again.id == kept.id and again.stats.activations == 1
    assert memory.forget("u", session_id="s2") == 1  # the statement of s2 went; s1's stays
    engram = memory.get(kept.id, "u")
    assert engram.text == kept.text
    assert [v.action for v in engram.history] == []
    assert all(p.session_id != "s2" for p in engram.metadata.evidence)
    assert engram.stats.activations == 0
    assert memory.forget("u", session_id="s1") == 1
    with pytest.raises(NotFoundError):
        memory.get(kept.id, "u")
    actions = [e.action for e in memory.store.backend.audit_events("u")]
    assert actions.count("forget") == 2 and "scrub" in actions


def test_deleting_a_replaced_fact_takes_its_text_out_of_the_update(make_memory):
    memory = make_memory()
    old = memory.remember(f"the dentist appointment is on Tuesday at 3 pm {MARK}", "u")
    new = memory.remember("the dentist appointment moved to Friday at 3 pm instead", "u")
    assert [v.text for v in memory.get(new.id, "u").history] == [old.text]  # the copy
    assert memory.delete(old.id, "u") == 1
    assert memory.get(new.id, "u").history == []
    assert MARK not in _texts(memory)
    assert MARK not in str([h.engram for h in memory.recall("dentist appointment", "u")])


def test_deleting_an_update_makes_the_fact_it_replaced_current_again(memory):
    old = memory.remember("the dentist appointment is on Tuesday at 3 pm", "u")
    new = memory.remember(f"the dentist appointment moved to Friday at 3 pm instead {MARK}", "u")
    assert memory.get(old.id, "u").superseded_by == new.id
    memory.delete(new.id, "u")
    restored = memory.get(old.id, "u")
    assert restored.is_active and restored.history == []
    assert [e.id for e in memory.list("u")] == [old.id]


def test_forgetting_a_session_rebuilds_a_merged_engram_without_its_sources(memory):
    memory.remember("the cabin wifi password is blue otter forty two", "u", session_id="s1")
    memory.remember(f"the cabin wifi password is blue otter forty two {MARK}", "u", session_id="s2")
    (merged_id,) = memory.consolidate("u").merged
    assert MARK in memory.get(merged_id, "u").text
    assert memory.forget("u", session_id="s2") == 1
    rebuilt = memory.get(merged_id, "u")
    assert MARK not in rebuilt.model_dump_json()
    assert rebuilt.text == "the cabin wifi password is [SECRET] otter forty two"  # redacted
    assert rebuilt.scope.session_id == "s1" and "kw:otter" in rebuilt.sketch
    assert memory.recall("cabin wifi password", "u")[0].engram.id == merged_id
    assert memory.forget("u", session_id="s1") == 1
    assert memory.list("u", include_superseded=True) == []


@pytest.mark.parametrize("how", ["delete", "forget"])
def test_an_erased_text_leaves_no_byte_on_disk(tiny_lm, tmp_path, how):
    """The DB file, its WAL, an export and the user's delta file hold none of the text."""
    memory = EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(dim=256))
    secret = f"The gym locker code is {MARK} and the bike lock is 4471."
    memory.remember(secret, "ana", session_id="s1")
    memory.remember(secret, "ana", session_id="s2")  # a reinforcement copies the text
    memory.remember("The wifi password at the cabin is blue-otter-42.", "ana", session_id="s3")
    consolidate_into_model(memory, tiny_lm, "ana", QUICK)  # attaches the model to the memory
    delta = tiny_lm.memory_path("ana")
    assert MARK.encode() in delta.read_bytes()  # the model held it (the test can fail)
    (held,) = [e for e in memory.list("ana") if MARK in e.text]
    if how == "delete":
        assert memory.delete(held.id, "ana") == 1
    else:
        assert memory.forget("ana", session_id="s1") == 1
    memory.export("ana", tmp_path / "export.json")
    assert (tmp_path / "m.db-wal").exists()
    assert _files_holding(tmp_path, MARK) == []
    assert MARK.encode() not in delta.read_bytes()
    assert [f.statement for f in tiny_lm.facts("ana")] == [
        "The wifi password at the cabin is blue-otter-42."
    ]
    events = [e for e in memory.store.backend.audit_events("ana") if e.action == "forget_in_model"]
    assert [(e.engram_ids, e.detail["facts"]) for e in events] == [([held.id], 1)]
    assert events[0].detail.keys() == {"facts", "rows_reset", "retrained"}
    assert events[0].detail["rows_reset"] > 0
    memory.close()
    assert _files_holding(tmp_path, MARK) == []  # closing writes nothing back


def test_a_delete_empties_the_wal_while_other_handles_are_open(tmp_path, hashing):
    first = EngramMemory(tmp_path / "m.db", encoder=hashing)
    second = EngramMemory(tmp_path / "m.db", encoder=hashing)
    engram = first.remember(f"the safe combination is {MARK}", "u")
    assert MARK.encode() in (tmp_path / "m.db-wal").read_bytes()
    second.list("u")
    second.delete(engram.id, "u")
    assert _files_holding(tmp_path, MARK) == []
    assert first.list("u") == [] and first.verify_audit() == second.verify_audit()


def test_only_engrams_that_can_hold_a_copy_are_read_on_delete():
    """The fast path skips engrams without history, evidence or successor; user metadata or text
    that spells those keys cannot make an engram that has them look empty."""
    import numpy as np

    from engram_agents.store.erasure import may_refer
    from engram_agents.store.records import Engram, Scope, Version
    from engram_agents.store.rows import Codec

    def body(engram: Engram) -> bytes:
        return Codec().to_row(engram, np.zeros(4)).payload

    tricky = '"evidence":[],"extra":{} "superseded_by":null,"history":[]}'
    plain = Engram(scope=Scope(user_id="u"), text=tricky)
    plain.metadata.extra["history"] = []
    assert not may_refer(body(plain))
    holder = plain.model_copy(update={"history": [Version(action="updated", text="old")]})
    assert may_refer(body(holder))
    assert may_refer(body(plain.model_copy(update={"superseded_by": "x"})))


def test_a_delete_reads_only_the_engram_and_those_holding_its_copies(tmp_path, hashing):
    """The copy index names the engrams to rewrite, so a delete does not read the user's whole
    store; it follows this handle's writes and another handle's too."""
    memory = EngramMemory(tmp_path / "m.db", encoder=hashing)
    other = EngramMemory(tmp_path / "m.db", encoder=hashing)
    for n in range(30):
        memory.remember(f"unrelated note {n} about shelf {n * 7}", "u")
    first = memory.remember(f"the dentist appointment is on Tuesday at 3 pm {MARK}", "u")
    memory.delete(memory.remember("a note to delete first", "u").id, "u")  # builds the index
    update = memory.remember("the dentist appointment moved to Friday at 3 pm instead", "u")
    late = other.remember(f"my car is parked on level 3 of the garage {MARK}", "u")
    moved = other.remember("my car is parked on level 5 of the garage now", "u")
    read: list[str] = []
    get = memory.store.backend.get

    def counting(user_id: str, ids: list[str]):
        read.extend(ids)
        return get(user_id, ids)

    memory.store.backend.get = counting  # type: ignore[method-assign]
    memory.delete(first.id, "u")
    assert sorted(read) == sorted([first.id, update.id])
    read.clear()
    memory.delete(late.id, "u")  # another handle wrote the copy: the index is rebuilt
    assert sorted(read) == sorted([late.id, moved.id])
    assert MARK not in _texts(memory)
    assert memory.get(update.id, "u").history == [] == memory.get(moved.id, "u").history


def test_an_encrypted_memory_seals_the_facts_in_the_delta_file(tiny_dirs, small_config, tmp_path):
    from engram_agents import EngramLM
    from engram_agents.store.crypto import generate_key
    from engram_agents.store.errors import EncryptionError

    key = generate_key()
    lm = EngramLM.from_pretrained(tiny_dirs["llama"], config=small_config, storage_dir=tmp_path)
    memory = EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(dim=256), encryption_key=key)
    memory.remember(f"The gym locker code is {MARK}.", "ana-7731")
    consolidate_into_model(memory, lm, "ana-7731", QUICK)
    delta = lm.memory_path("ana-7731").read_bytes()
    assert MARK.encode() not in delta and b"ana-7731" not in delta
    assert [f.statement for f in lm.facts("ana-7731")] == [f"The gym locker code is {MARK}."]
    assert _files_holding(tmp_path, MARK) == []

    fresh = EngramLM.from_pretrained(tiny_dirs["llama"], config=small_config, storage_dir=tmp_path)
    with pytest.raises(EncryptionError, match="set_encryption_key"):
        fresh.facts("ana-7731")
    fresh.set_encryption_key(key)
    assert len(fresh.facts("ana-7731")) == 1


SUBJECTS = "dentist barber plumber tutor vet lawyer florist baker tailor mechanic".split()


def _delete_marked(path: str, ids: list[str], start) -> None:
    mem = EngramMemory(path, encoder=HashingEncoder(dim=256))
    start.wait()
    for engram_id in ids:
        time.sleep(0.1)  # spread the deletes over the updates' run
        mem.delete(engram_id, "u")


def _supersede_marked(path: str, start) -> None:
    """Each update copies the text it replaces into its own history, racing the deletes."""
    mem = EngramMemory(path, encoder=HashingEncoder(dim=256))
    start.wait()
    for subject in SUBJECTS:
        mem.remember(f"the {subject} appointment moved to Friday at 3 pm instead", "u")


@pytest.mark.adversarial
def test_an_update_racing_a_delete_keeps_no_copy_of_the_deleted_text(tmp_path):
    path = str(tmp_path / "m.db")
    mem = EngramMemory(path, encoder=HashingEncoder(dim=256))
    marked = [
        mem.remember(f"the {subject} appointment is on Tuesday at 3 pm {MARK}{n}", "u").id
        for n, subject in enumerate(SUBJECTS)
    ]
    # Deletes run last-first, updates first-first: the first updates land before their
    # target's delete (a copy to scrub), the middle ones race it.
    _run((_delete_marked, (path, marked[::-1])), (_supersede_marked, (path,)))
    left = mem.list("u", include_superseded=True)
    assert len(left) == len(SUBJECTS) and not {e.id for e in left} & set(marked)
    assert MARK not in str(mem.export("u", tmp_path / "export.json")["engrams"])
    assert _files_holding(tmp_path, MARK) == []
    events = mem.store.backend.audit_events("u")
    assert [e.action for e in events].count("delete") == len(SUBJECTS)
    copied = [e for e in events if e.action == "supersede" and e.engram_ids[0] in marked]
    assert copied  # some updates did copy a marked text before its delete
    mem.verify_audit()
