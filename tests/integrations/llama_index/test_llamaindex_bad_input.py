"""Bad input to the LlamaIndex `EngramMemory` (put, aput, put_messages, set, get, from_defaults):
our InvalidInputError naming the problem, and neither the store (rows, audit chain) nor the
short-term chat history changes. Messages are checked before anything is remembered, and
remembered before the history takes them, so a refused message reaches neither."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.base.llms.types import ChatMessage, TextBlock
from store_state import store_state

from engram_agents import EngramMemory as CoreMemory
from engram_agents.errors import InvalidInputError
from llama_index.memory.engram import EngramMemory


def user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


def unvalidated(role: object) -> ChatMessage:
    """A message built without LlamaIndex's validation (model_construct), with any role."""
    return ChatMessage.model_construct(
        role=role, blocks=[TextBlock(text="hello")], additional_kwargs={}
    )


def said(text: str, **kwargs: object) -> ChatMessage:
    return ChatMessage(role="user", content=text, additional_kwargs=kwargs)


@pytest.fixture
def store(tmp_path, encoder) -> CoreMemory:
    """In this process only: the unchanged-store check reads the SQLite file itself (the
    server's own bad-input cases are in tests/server/test_server_bad_input.py)."""
    return CoreMemory(tmp_path / "m.db", encoder=encoder)


@pytest.fixture
def memory(store):
    m = EngramMemory.from_defaults(user_id="ana", store=store)
    m.put(user("my dog is called Pixel"))
    m.put(ChatMessage(role="assistant", content="Nice name!"))
    return m


# (case, call, message); a call gets the memory and the core store under it
BAD_CALLS = [
    # put: what is not a ChatMessage, bad content, bad roles, bad session stamps
    ("put a str", lambda m, s: m.put("hello"),
     "message 0 must be a llama_index ChatMessage, got str"),
    ("put a dict", lambda m, s: m.put({"role": "user", "content": "hi"}), "got dict"),
    ("put None", lambda m, s: m.put(None), "got NoneType"),
    ("put NUL content", lambda m, s: m.put(user("a\x00b")), "message 0 content contains a NUL"),
    ("put lone surrogate", lambda m, s: m.put(user("bad \udc80")),
     "message 0 content is not valid UTF-8"),
    ("put oversized content", lambda m, s: m.put(user("x" * 1_000_001)), "limit is 1000000 bytes"),
    ("put unknown role", lambda m, s: m.put(unvalidated("bogus")),
     "message 0 role must be one of .*got 'bogus'"),
    ("put role None", lambda m, s: m.put(unvalidated(None)), "message 0 role must be one of"),
    ("put session stamp an int", lambda m, s: m.put(said("hello", session_id=5)),
     "session_id must be a non-empty string, got 5"),
    ("put session stamp NUL", lambda m, s: m.put(said("hello", session_id="s\x00")),
     "session_id contains a NUL"),
    # put_messages: one bad message refuses the whole list
    ("put_messages one message", lambda m, s: m.put_messages(user("hello")),
     "expected a list of llama_index ChatMessage, got ChatMessage"),
    ("put_messages a str", lambda m, s: m.put_messages("hello"), "expected a list"),
    ("put_messages None", lambda m, s: m.put_messages(None), "got NoneType"),
    ("put_messages a generator", lambda m, s: m.put_messages(x for x in [user("hi")]),
     "got generator"),
    ("put_messages of dicts", lambda m, s: m.put_messages([{"role": "user", "content": "hi"}]),
     "message 0 must be a llama_index ChatMessage, got dict"),
    ("put_messages good then a str", lambda m, s: m.put_messages([user("fine one"), "bad"]),
     "message 1 must be a llama_index ChatMessage, got str"),
    ("put_messages good then NUL", lambda m, s: m.put_messages([user("fine one"), user("\x00")]),
     "message 1 content contains a NUL"),
    ("put_messages good then bad role",
     lambda m, s: m.put_messages([user("fine one"), unvalidated(3)]), "message 1 role"),
    # set (replaces the history; new messages are remembered)
    ("set a str", lambda m, s: m.set("hello"), "expected a list"),
    ("set None", lambda m, s: m.set(None), "got NoneType"),
    ("set with an int", lambda m, s: m.set([user("fine one"), 5]), "message 1 must be a llama_"),
    ("set NUL content", lambda m, s: m.set([user("new one \x00")]), "message 0 content contains"),
    # get (recall for an input)
    ("get input an int", lambda m, s: m.get(input=5), "input must be a string or ChatMessage"),
    ("get input a list", lambda m, s: m.get(input=["a"]), "got list"),
    ("get input NUL", lambda m, s: m.get(input="a\x00"), "query contains a NUL"),
    ("get input oversized", lambda m, s: m.get(input="x" * 1_000_001), "query is 1000001 bytes"),
    # the async twins
    ("aput a str", lambda m, s: asyncio.run(m.aput("hello")), "must be a llama_index ChatMessage"),
    ("aput NUL content", lambda m, s: asyncio.run(m.aput(user("a\x00"))), "contains a NUL"),
    ("aput_messages a str", lambda m, s: asyncio.run(m.aput_messages("hello")), "expected a list"),
    ("aset None", lambda m, s: asyncio.run(m.aset(None)), "expected a list"),
    ("aget input an int", lambda m, s: asyncio.run(m.aget(input=5)), "input must be a string"),
    # from_defaults: settings, checked with the core's rules
    ("from_defaults empty user", lambda m, s: EngramMemory.from_defaults(user_id="", store=s),
     "bad EngramMemory setting: user_id"),
    ("from_defaults NUL user", lambda m, s: EngramMemory.from_defaults(user_id="a\x00", store=s),
     "user_id contains a NUL"),
    ("from_defaults int user", lambda m, s: EngramMemory.from_defaults(user_id=5, store=s),
     "user_id must be a non-empty string, got 5"),
    ("from_defaults k 0", lambda m, s: EngramMemory.from_defaults(user_id="ana", store=s, k=0),
     "k must be an integer between 1 and 1000, got 0"),
    ("from_defaults unknown role",
     lambda m, s: EngramMemory.from_defaults(user_id="ana", store=s, remember_roles=["bogus"]),
     r"remember_roles: unknown roles \['bogus'\]"),
    ("from_defaults NUL session",
     lambda m, s: EngramMemory.from_defaults(user_id="ana", store=s, session_id="s\x00"),
     "session_id contains a NUL"),
    ("from_defaults empty agent",
     lambda m, s: EngramMemory.from_defaults(user_id="ana", store=s, agent_id=""),
     "agent_id must be a non-empty string"),
    ("from_defaults history a str",
     lambda m, s: EngramMemory.from_defaults(user_id="bob", store=s, chat_history="hi"),
     "expected a list"),
]  # fmt: skip


def _state(memory: EngramMemory) -> tuple:
    return store_state(memory.store), [m.model_dump() for m in memory.get_all()]


@pytest.mark.parametrize(
    ("call", "message"), [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS]
)
def test_bad_input_gets_our_error_and_changes_nothing(memory, store, call, message):
    before = _state(memory)
    with pytest.raises(InvalidInputError, match=message):
        call(memory, store)
    assert _state(memory) == before  # store rows, audit chain, short-term history


def test_an_empty_list_of_messages_changes_nothing(memory):
    before = _state(memory)
    memory.put_messages([])  # LlamaIndex's own Memory raises a SQL error here
    assert _state(memory) == before
