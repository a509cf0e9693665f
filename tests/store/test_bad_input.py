"""Bad input and faults: clear errors naming the problem, and nothing already stored is lost."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.errors import BackendUnavailableError, InvalidInputError


def _snapshot(mem: EngramMemory) -> list[tuple[str, str]]:
    return [(e.id, e.text) for e in mem.list("u")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("   \n\t", "empty"),
        ("x" * 1_000_001, "limit is 1000000 bytes"),
        (b"caf\xc3", "not valid UTF-8"),
        ("bad \udc80 surrogate", "not valid UTF-8"),
        (42, "must be a (non-empty )?string"),
    ],
)
def test_bad_text_is_refused_and_nothing_changes(memory, content, message):
    memory.remember("a fact that must survive", "u")
    before = _snapshot(memory)
    with pytest.raises(InvalidInputError, match=message):
        memory.remember(content, "u")
    with pytest.raises(InvalidInputError, match=message):
        memory.remember_many(["a fine item", content], "u")  # all or nothing
    assert _snapshot(memory) == before


def test_bad_query_user_and_k(memory):
    with pytest.raises(InvalidInputError, match="query is empty"):
        memory.recall("  ", "u")
    with pytest.raises(InvalidInputError, match="user_id"):
        memory.recall("hello", "")
    with pytest.raises(InvalidInputError, match="k must be"):
        memory.recall("hello", "u", k=0)
    with pytest.raises(InvalidInputError, match="names no date"):
        memory.recall("hello", "u", time_range="whenever")


class BadEncoder:
    def __init__(self, mode: str) -> None:
        self.mode, self.dim, self.name = mode, 8, f"bad-{mode}"

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.mode == "dim":
            return np.ones((len(texts), 5), dtype=np.float32)
        out = np.ones((len(texts), 8), dtype=np.float32)
        if self.mode == "nan":
            out[-1, 0] = np.nan
        return out


@pytest.mark.parametrize(("mode", "message"), [("dim", "shape"), ("nan", "NaN")])
def test_bad_vectors_from_custom_encoder(tmp_path, mode, message):
    good = EngramMemory(tmp_path / "m.db", encoder=BadEncoder("ok"))
    good.remember("kept", "u")
    bad = EngramMemory(tmp_path / "m.db", encoder=BadEncoder(mode))
    with pytest.raises(InvalidInputError, match=message):
        bad.remember("lost?", "u")
    assert [e.text for e in good.list("u")] == ["kept"]


def test_corrupt_database_file(tmp_path, hashing):
    path = tmp_path / "m.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackendUnavailableError, match="corrupt or not an SQLite database"):
        EngramMemory(path, encoder=hashing)


def test_locked_database_fails_clearly_and_keeps_data(tmp_path, hashing):
    from engram_agents.store.backends.sqlite import SQLiteBackend

    path = tmp_path / "m.db"
    mem = EngramMemory(backend=SQLiteBackend(path, timeout_s=0.2), encoder=hashing)
    mem.remember("before the lock", "u")
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(BackendUnavailableError, match="locked"):
            mem.remember("during the lock", "u")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert [e.text for e in mem.list("u")] == ["before the lock"]


def test_chroma_server_down(hashing):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendUnavailableError, match=f"127.0.0.1:{port}"):
        EngramMemory.chroma(host="127.0.0.1", port=port, encoder=hashing)


def test_encoder_object_without_methods_is_named(tmp_path):
    with pytest.raises(InvalidInputError, match="embed_documents"):
        EngramMemory(tmp_path / "m.db", encoder=object())


def _user_data(mem: EngramMemory) -> tuple[list, list]:
    """Everything the user can export, less the export's own timestamp."""
    data = mem.export("u")
    return data["engrams"], data["audit"]


# (case, call, message): each must raise InvalidInputError naming the problem and change nothing
BAD_CALLS = [
    ("message content not text", lambda m, x, d: m.remember([{"role": "user", "content": 5}], "u"),
     "message 0 content must be a string"),
    ("blank message", lambda m, x, d: m.remember([{"role": "user", "content": "   "}], "u"),
     "message 0 content is empty"),
    ("remember_many of a str", lambda m, x, d: m.remember_many("hello", "u"),
     "remember_many takes a list of items, got one str"),
    ("remember_many of an int", lambda m, x, d: m.remember_many(5, "u"), "list of items"),
    ("tags as a str", lambda m, x, d: m.recall("dentist", "u", tags="kw:x"),
     "tags must be a list of strings"),
    ("forget tags as a str", lambda m, x, d: m.forget("u", tags="kw:dentist"),
     "tags must be a list of strings"),
    ("unknown tier", lambda m, x, d: m.recall("dentist", "u", tier="bogus"),
     "tier must be one of 'short', 'long'"),
    ("unknown tier in a filters dict", lambda m, x, d: m.recall("a", "u", filters={"tier": "x"}),
     "bad input to recall: tier"),
    ("metadata with an object", lambda m, x, d: m.remember("a", "u", metadata={"o": object()}),
     r"metadata\['o'\] is a object"),
    ("metadata as a str", lambda m, x, d: m.remember("a new fact", "u", metadata="kw:x"),
     "metadata must be a dict, got str"),
    ("update metadata as a str", lambda m, x, d: m.update(x, "u", metadata="kw:x"),
     "metadata must be a dict, got str"),
    ("metadata NaN", lambda m, x, d: m.remember("a", "u", metadata={"p": float("nan")}),
     r"metadata\['p'\] is nan: only finite numbers"),
    ("nested metadata inf", lambda m, x, d: m.remember("a", "u", metadata={"p": [float("inf")]}),
     r"metadata\['p'\]\[0\] is inf"),
    ("item metadata with an object",
     lambda m, x, d: m.remember_many([{"text": "a", "metadata": {"o": [object()]}}], "u"),
     r"metadata\['o'\]\[0\] is a object, which cannot be stored as JSON"),
    ("metadata with a non-str key", lambda m, x, d: m.remember("a", "u", metadata={1: "x"}),
     "non-string key 1"),
    ("delete None", lambda m, x, d: m.delete(None, "u"), "engram_id must be a string or a list"),
    ("delete an empty list", lambda m, x, d: m.delete([], "u"), "list of engram_ids is empty"),
    ("feedback None", lambda m, x, d: m.feedback(None, "u"), "engram_id must be a string"),
    ("feedback useful not bool", lambda m, x, d: m.feedback(x, "u", useful="yes"),
     "useful must be True or False"),
    ("export to a directory", lambda m, x, d: m.export("u", path=d), "is a directory"),
    ("export into a missing folder", lambda m, x, d: m.export("u", path=d / "no" / "f.json"),
     "folder does not exist"),
    ("unparseable event_time", lambda m, x, d: m.remember("a", "u", event_time="call me maybe 5"),
     "cannot read 'call me maybe 5' as a date/time"),
    ("unparseable update event_time", lambda m, x, d: m.update(x, "u", event_time="soonish"),
     "cannot read 'soonish'"),
    ("impossible date in time_range", lambda m, x, d: m.recall("a", "u", time_range="2024-13-45"),
     "month must be in 1..12"),
    ("impossible date in forget", lambda m, x, d: m.forget("u", time_range="2024-02-31"),
     "day is out of range"),
    ("time_range start after end",
     lambda m, x, d: m.recall("a", "u", time_range=("2024-05-02", "2024-05-01")),
     "time_range starts after it ends"),
    ("forget start after end",
     lambda m, x, d: m.forget("u", time_range=("2024-05-02", "2024-05-01")),
     "time_range starts after it ends"),
    ("NUL in an engram id", lambda m, x, d: m.get(x + "\x00", "u"), "engram_id contains a NUL"),
    ("NUL in a deleted id", lambda m, x, d: m.delete([x, "a\x00b"], "u"), "contains a NUL"),
    ("NUL in an updated id", lambda m, x, d: m.update("a\x00", "u", text="t"), "contains a NUL"),
    ("NUL in feedback ids", lambda m, x, d: m.feedback(["\x00"], "u"), "contains a NUL"),
    ("NUL in a user id", lambda m, x, d: m.remember("a", "u\x00"), "user_id contains a NUL"),
    ("NUL in a session id", lambda m, x, d: m.remember("a", "u", session_id="s\x00"),
     "session_id contains a NUL"),
    ("NUL in a recall session id", lambda m, x, d: m.recall("a", "u", session_id="\x00s"),
     "session_id contains a NUL"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "message"), [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS]
)
def test_bad_input_gets_our_error_and_changes_nothing(memory, tmp_path, call, message):
    x = memory.remember("the dentist is on Tuesday at 3 pm", "u", metadata={"source": "chat"})
    memory.remember("the plumber comes on Monday", "u", session_id="s1")
    engrams, audit = _user_data(memory)
    with pytest.raises(InvalidInputError, match=message):
        call(memory, x.id, tmp_path)
    engrams_after, audit_after = _user_data(memory)
    assert engrams_after == engrams
    assert audit_after[:-1] == audit  # only the second export was logged
    assert audit_after[-1]["action"] == "export"


async def test_async_twins_raise_our_error_too(memory):
    with pytest.raises(InvalidInputError, match="message 0 content must be a string"):
        await memory.aremember([{"role": "user", "content": 5}], "u")
    with pytest.raises(InvalidInputError, match="bad input to recall"):
        await memory.arecall("a", "u", filters={"tier": "x"})
