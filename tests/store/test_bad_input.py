"""Bad input and faults: clear errors naming the problem, and nothing already stored is lost."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from store_state import store_state

from engram_agents.memory import EngramMemory
from engram_agents.store.errors import BackendUnavailableError, InvalidInputError, NotFoundError


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
    before = store_state(memory)
    with pytest.raises(InvalidInputError, match=message):
        memory.remember(content, "u")
    with pytest.raises(InvalidInputError, match=message):
        memory.remember_many(["a fine item", content], "u")  # all or nothing
    assert store_state(memory) == before


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


# (case, call, message): each must raise InvalidInputError naming the problem and change nothing;
# a call gets the memory, the id of a stored engram and an existing folder
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
    # recall: k, query, filters (a dict or the keywords, never both), flags, ids, dates
    ("recall k True", lambda m, x, d: m.recall("a", "u", k=True), "k must be an integer"),
    ("recall k 1001", lambda m, x, d: m.recall("a", "u", k=1001), "between 1 and 1000, got 1001"),
    ("recall query None", lambda m, x, d: m.recall(None, "u"), "query must be a string"),
    ("recall query NUL", lambda m, x, d: m.recall("a\x00", "u"), "query contains a NUL"),
    ("recall filters a str", lambda m, x, d: m.recall("a", "u", filters="tier=long"),
     "filters must be RecallFilters or a dict"),
    ("recall filters misspelt key", lambda m, x, d: m.recall("a", "u", filters={"tierx": "long"}),
     "filters has unknown key.*'tierx'"),
    ("recall filters and tags", lambda m, x, d: m.recall("a", "u", filters={}, tags=["kw:a"]),
     "pass either filters or tags, not both"),
    ("recall filters tags a str", lambda m, x, d: m.recall("a", "u", filters={"tags": "kw:x"}),
     "bad input to recall: tags"),
    ("recall filters reversed range",
     lambda m, x, d: m.recall(
         "a", "u", filters={"time_range": {"start": "2024-05-02", "end": "2024-05-01"}}),
     "time_range starts after it ends"),
    ("recall filters include_superseded 'no'",
     lambda m, x, d: m.recall("a", "u", filters={"include_superseded": "no"}),
     "filters include_superseded must be True or False"),
    ("recall include_superseded 'yes'",
     lambda m, x, d: m.recall("a", "u", include_superseded="yes"),
     "include_superseded must be True or False, got 'yes'"),
    ("recall empty agent id", lambda m, x, d: m.recall("a", "u", agent_id=""),
     "agent_id must be a non-empty string"),
    ("recall time_range an int", lambda m, x, d: m.recall("a", "u", time_range=5),
     "time_range must be a TimeRange"),
    ("recall now unreadable", lambda m, x, d: m.recall("a", "u", now="whenever"),
     "cannot read 'whenever'"),
    # list and get
    ("list empty user", lambda m, x, d: m.list(""), "user_id must be a non-empty string"),
    ("list include_superseded 'no'", lambda m, x, d: m.list("u", include_superseded="no"),
     "include_superseded must be True or False"),
    ("list NUL agent", lambda m, x, d: m.list("u", agent_id="\x00"), "agent_id contains a NUL"),
    ("get None", lambda m, x, d: m.get(None, "u"), "engram_id must be a non-empty string"),
    ("get a list", lambda m, x, d: m.get([x], "u"), "engram_id must be a non-empty string"),
    ("get long user id", lambda m, x, d: m.get(x, "u" * 300), "user_id is longer than 256"),
    # update
    ("update blank text", lambda m, x, d: m.update(x, "u", text="  "), "text is empty"),
    ("update text an int", lambda m, x, d: m.update(x, "u", text=5), "text must be a string"),
    ("update metadata NaN", lambda m, x, d: m.update(x, "u", metadata={"p": float("nan")}),
     r"metadata\['p'\] is nan"),
    ("update nothing", lambda m, x, d: m.update(x, "u"), "update needs text, metadata or"),
    ("update event_time an int", lambda m, x, d: m.update(x, "u", event_time=5),
     "time must be a datetime or a non-empty string"),
    ("update None id", lambda m, x, d: m.update(None, "u", text="t"),
     "engram_id must be a non-empty string"),
    # delete
    ("delete a dict", lambda m, x, d: m.delete({x: 1}, "u"), "engram_id must be a string or a"),
    ("delete bytes", lambda m, x, d: m.delete(x.encode(), "u"), "engram_id must be a string or"),
    ("delete a list holding an int", lambda m, x, d: m.delete([x, 5], "u"),
     "engram_id must be a non-empty string, got 5"),
    ("delete None user", lambda m, x, d: m.delete(x, None), "user_id must be a non-empty string"),
    # forget
    ("forget without selector", lambda m, x, d: m.forget("u"), "forget needs a selector"),
    ("forget everything 'yes'", lambda m, x, d: m.forget("u", everything="yes"),
     "everything must be True or False, got 'yes'"),
    ("forget everything 1", lambda m, x, d: m.forget("u", everything=1),
     "everything must be True or False, got 1"),
    ("forget empty session", lambda m, x, d: m.forget("u", session_id=""),
     "session_id must be a non-empty string"),
    ("forget tags of ints", lambda m, x, d: m.forget("u", tags=[1]), "each tag must be a non-emp"),
    ("forget unreadable time_range", lambda m, x, d: m.forget("u", time_range="whenever"),
     "time_range 'whenever' names no date"),
    # export
    ("export path an int", lambda m, x, d: m.export("u", path=5),
     "export path must be a str or a Path, got int"),
    ("export path with NUL", lambda m, x, d: m.export("u", path=str(d / "a\x00b")),
     "export path contains a NUL"),
    ("export None user", lambda m, x, d: m.export(None), "user_id must be a non-empty string"),
    # feedback and consolidate
    ("feedback empty list", lambda m, x, d: m.feedback([], "u"), "list of engram_ids is empty"),
    ("feedback useful None", lambda m, x, d: m.feedback(x, "u", useful=None),
     "useful must be True or False, got None"),
    ("feedback a dict", lambda m, x, d: m.feedback({x: 1}, "u"), "engram_id must be a string"),
    ("consolidate None", lambda m, x, d: m.consolidate(None), "user_id must be a non-empty"),
    ("consolidate NUL user", lambda m, x, d: m.consolidate("u\x00"), "user_id contains a NUL"),
    # consent
    ("set_consent 'no'", lambda m, x, d: m.set_consent("u", "no"),
     "remember must be True or False, got 'no'"),
    ("consent None user", lambda m, x, d: m.consent(None), "user_id must be a non-empty string"),
    # remember: content, speakers, scope, options
    ("message role an int", lambda m, x, d: m.remember([{"role": 5, "content": "hi there"}], "u"),
     "message 0 role must be a string, got int"),
    ("message role empty", lambda m, x, d: m.remember([{"role": "", "content": "hi there"}], "u"),
     "message 0 role is empty"),
    ("message a str", lambda m, x, d: m.remember(["hello"], "u"), "message 0 must be a dict"),
    ("content None", lambda m, x, d: m.remember(None, "u"), "content must be a non-empty string"),
    ("content a dict", lambda m, x, d: m.remember({"role": "user", "content": "hi"}, "u"),
     "content must be a non-empty string or list of messages"),
    ("content bytearray not UTF-8", lambda m, x, d: m.remember(bytearray(b"\xff"), "u"),
     "text is not valid UTF-8"),
    ("agent id an int", lambda m, x, d: m.remember("a new fact", "u", agent_id=7),
     "agent_id must be a non-empty string, got 7"),
    ("user id blank", lambda m, x, d: m.remember("a new fact", "   "),
     "user_id must be a non-empty string"),
    ("event_time a list", lambda m, x, d: m.remember("a new fact", "u", event_time=[2024]),
     "time must be a datetime or a non-empty string"),
    ("evidence a str", lambda m, x, d: m.remember("a new fact", "u", evidence=["chat"]),
     "bad input to remember: evidence.0"),
    ("redact 'yes'", lambda m, x, d: m.remember("a new fact", "u", redact="yes"),
     "redact must be True or False, got 'yes'"),
    # remember_many
    ("remember_many None", lambda m, x, d: m.remember_many(None, "u"), "list of items, got one"),
    ("remember_many empty", lambda m, x, d: m.remember_many([], "u"), "the list of items is empty"),
    ("remember_many misspelt key",
     lambda m, x, d: m.remember_many([{"text": "an item", "meta": {}}], "u"),
     "item 0 has unknown key.*'meta'"),
    ("remember_many item without text", lambda m, x, d: m.remember_many([{"metadata": {}}], "u"),
     "bad item 0 for remember_many: text: Field required"),
    ("remember_many item metadata a str",
     lambda m, x, d: m.remember_many(["fine", {"text": "a", "metadata": "x"}], "u"),
     "bad item 1 for remember_many: metadata"),
    ("remember_many item NUL session",
     lambda m, x, d: m.remember_many([{"text": "a fine item", "session_id": "s\x00"}], "u"),
     "item 0 session_id contains a NUL"),
    ("remember_many item None", lambda m, x, d: m.remember_many(["fine", None], "u"),
     "item 1 text must be a string"),
    ("remember_many redact 3", lambda m, x, d: m.remember_many(["a fine item"], "u", redact=3),
     "redact must be True or False, got 3"),
    # the async twins run the same checks
    ("aremember metadata a str",
     lambda m, x, d: asyncio.run(m.aremember("a new fact", "u", metadata="kw:x")),
     "metadata must be a dict"),
    ("aremember_many of a str", lambda m, x, d: asyncio.run(m.aremember_many("hello", "u")),
     "remember_many takes a list of items"),
    ("arecall k 0", lambda m, x, d: asyncio.run(m.arecall("a", "u", k=0)), "k must be an integer"),
    ("alist None user", lambda m, x, d: asyncio.run(m.alist(None)), "user_id must be a non-empty"),
    ("aget NUL id", lambda m, x, d: asyncio.run(m.aget("a\x00", "u")), "engram_id contains a NUL"),
    ("aupdate blank text", lambda m, x, d: asyncio.run(m.aupdate(x, "u", text=" ")),
     "text is empty"),
    ("adelete empty list", lambda m, x, d: asyncio.run(m.adelete([], "u")), "list of engram_ids"),
    ("aforget everything 'yes'",
     lambda m, x, d: asyncio.run(m.aforget("u", everything="yes")), "everything must be True"),
    ("aexport to a directory", lambda m, x, d: asyncio.run(m.aexport("u", path=d)),
     "is a directory"),
    ("afeedback useful 'no'", lambda m, x, d: asyncio.run(m.afeedback(x, "u", useful="no")),
     "useful must be True or False"),
    ("aconsolidate blank user", lambda m, x, d: asyncio.run(m.aconsolidate(" ")),
     "user_id must be a non-empty"),
    ("aset_consent None", lambda m, x, d: asyncio.run(m.aset_consent("u", None)),
     "remember must be True or False"),
]  # fmt: skip

# ids that name no engram of the user: our NotFoundError naming the id, and nothing changes
MISSING_CALLS = [
    ("get unknown id", lambda m, x, d: m.get("nope", "u"), "no engram 'nope' for user 'u'"),
    ("update another user's engram", lambda m, x, d: m.update(x, "v", text="t"),
     "for user 'v'"),
    ("delete unknown id", lambda m, x, d: m.delete("nope", "u"), "no engram 'nope'"),
    ("delete known and unknown ids", lambda m, x, d: m.delete([x, "nope"], "u"),
     "no engram 'nope'"),
    ("feedback unknown id", lambda m, x, d: m.feedback(["nope"], "u"), "no engram 'nope'"),
]  # fmt: skip

CASES = [(*c, InvalidInputError) for c in BAD_CALLS] + [(*c, NotFoundError) for c in MISSING_CALLS]


@pytest.mark.parametrize(
    ("call", "message", "error"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_gets_our_error_and_changes_nothing(memory, tmp_path, call, message, error):
    x = memory.remember("the dentist is on Tuesday at 3 pm", "u", metadata={"source": "chat"})
    memory.remember("the plumber comes on Monday", "u", session_id="s1")
    before = store_state(memory)
    with pytest.raises(error, match=message):
        call(memory, x.id, tmp_path)
    assert store_state(memory) == before  # rows of every table, and the audit chain's length


async def test_async_twins_raise_our_error_too(memory):
    with pytest.raises(InvalidInputError, match="message 0 content must be a string"):
        await memory.aremember([{"role": "user", "content": 5}], "u")
    with pytest.raises(InvalidInputError, match="bad input to recall"):
        await memory.arecall("a", "u", filters={"tier": "x"})


def test_an_unwritable_export_path_is_refused_before_the_audit_entry(memory, tmp_path):
    memory.remember("a fact that must survive", "u")
    before = store_state(memory)
    too_long = tmp_path / ("x" * 300 + ".json")  # a name no file system takes
    read_only = Path("/sys/engram-export.json")  # a folder no one may write in, root included
    for path, reason in ((too_long, "File name too long"), (read_only, "Permission denied")):
        with pytest.raises(InvalidInputError, match=f"export path .*{reason}"):
            memory.export("u", path)
    assert store_state(memory) == before  # no "export" audit entry
    written = tmp_path / "out.json"
    data = memory.export("u", written)
    assert json.loads(written.read_text("utf-8")) == data  # a writable path still gets the file
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written file left behind
