"""EngramStore as a LangGraph BaseStore: items, semantic search with filters, namespaces,
batches, bad input, and a real create_agent loop whose tools use it."""

from __future__ import annotations

import pytest
from langchain.agents import create_agent
from langchain.tools import ToolRuntime
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langgraph.store.base import GetOp, Item, PutOp, SearchItem, SearchOp
from typing_extensions import TypedDict

from engram_agents import EngramMemory
from engram_agents.store.encoders import HashingEncoder
from langchain_engram import EngramStore
from langchain_engram.stores import ITEM_CONFIG

ENC = HashingEncoder(dim=256)


@pytest.fixture
def store(new_store) -> EngramStore:
    s = new_store()
    s.put(("ana", "memories"), "pet", {"text": "I adopted a greyhound called Pixel", "kind": "pet"})
    s.put(("ana", "memories"), "dentist", {"text": "Dentist on 5 June at 3 pm", "kind": "health"})
    s.put(("ana", "prefs"), "tea", {"text": "I like green tea", "cups": 3})
    s.put(("bob", "memories"), "pet", {"text": "Bob has a cat called Miso", "kind": "pet"})
    return s


def test_get_put_update_delete(store):
    item = store.get(("ana", "memories"), "pet")
    assert isinstance(item, Item) and not isinstance(item, SearchItem)
    assert item.value == {"text": "I adopted a greyhound called Pixel", "kind": "pet"}
    assert item.namespace == ("ana", "memories") and item.created_at == item.updated_at
    store.put(("ana", "memories"), "pet", {"text": "I adopted a whippet called Pixel"})
    again = store.get(("ana", "memories"), "pet")
    assert again.value == {"text": "I adopted a whippet called Pixel"}
    assert again.created_at == item.created_at and again.updated_at > item.updated_at
    assert (
        store.get(("ana", "other"), "pet") is None and store.get(("bob", "memories"), "x") is None
    )
    store.delete(("ana", "memories"), "pet")
    assert store.get(("ana", "memories"), "pet") is None
    assert store.get(("bob", "memories"), "pet").value["text"] == "Bob has a cat called Miso"


def test_identical_values_under_two_keys_stay_two_items(store):
    store.put(("ana", "notes"), "a", {"text": "Call mum on Sunday"})
    store.put(("ana", "notes"), "b", {"text": "Call mum on Sunday"})
    assert [i.key for i in store.search(("ana", "notes"))] == ["a", "b"]


def test_namespaces_map_to_user_scopes(store, tmp_path):
    ana = [e.metadata.extra["key"] for e in store.memory.list("ana")]
    assert sorted(ana) == ["dentist", "pet", "tea"]
    assert [e.scope.agent_id for e in store.memory.list("bob")] == ["bob/memories"]
    second = EngramStore(tmp_path / "store2.db", encoder=ENC, user_position=1)
    second.put(("users", "ana"), "k", {"text": "hello"})
    assert [e.text for e in second.memory.list("ana")] == ["hello"]


def test_semantic_search_with_filters(store):
    hits = store.search(("ana",), query="what is my dog called? greyhound Pixel")
    assert hits[0].key == "pet" and hits[0].namespace == ("ana", "memories")
    assert hits[0].score is not None and hits[0].score >= hits[-1].score
    assert {h.namespace[0] for h in hits} == {"ana"}
    assert [h.key for h in store.search(("ana",), filter={"kind": "pet"})] == ["pet"]
    assert [h.key for h in store.search(("ana",), filter={"cups": {"$gte": 3}})] == ["tea"]
    assert [h.key for h in store.search(("ana",), filter={"kind": {"$ne": "pet"}})] == [
        "dentist",
        "tea",
    ]
    across = store.search((), query="pet called", filter={"kind": "pet"})
    assert sorted((h.namespace[0], h.key) for h in across) == [("ana", "pet"), ("bob", "pet")]
    assert len(store.search(("ana",), limit=1, offset=1)) == 1
    with pytest.raises(ValueError, match="unsupported filter operator"):
        store.search(("ana",), filter={"cups": {"$regex": "3"}})


def test_list_namespaces(store):
    assert store.list_namespaces() == [("ana", "memories"), ("ana", "prefs"), ("bob", "memories")]
    assert store.list_namespaces(prefix=("ana",)) == [("ana", "memories"), ("ana", "prefs")]
    assert store.list_namespaces(suffix=("memories",), max_depth=1) == [("ana",), ("bob",)]
    store.delete(("ana", "prefs"), "tea")
    assert ("ana", "prefs") not in store.list_namespaces()


async def test_batch_and_abatch(store):
    put = PutOp(("ana", "memories"), "new", {"text": "Standup moved to 9:30"})
    results = store.batch([put, GetOp(("ana", "memories"), "new"), SearchOp(("bob",))])
    assert results[:2] == [None, None]  # reads see the store as it was before the batch
    assert [i.key for i in results[2]] == ["pet"]
    assert store.get(("ana", "memories"), "new").value["text"] == "Standup moved to 9:30"
    got = await store.abatch([GetOp(("ana", "prefs"), "tea")])
    assert got[0].value["cups"] == 3
    assert (await store.aget(("ana", "memories"), "new")).key == "new"
    await store.adelete(("ana", "memories"), "new")
    assert await store.aget(("ana", "memories"), "new") is None


def test_index_fields(new_store):
    s = new_store(index_fields=["body"])
    s.put(("ana",), "a", {"title": "ignored", "body": "the body text"})
    s.put(("ana",), "b", {"title": "kept", "n": 1}, index=["title"])
    s.put(("ana",), "c", {"n": 2}, index=False)
    assert sorted(e.text for e in s.memory.list("ana")) == ["kept", "the body text", '{"n": 2}']


def test_bad_input_writes_nothing(store):
    before = store.search(("ana",))
    bad = [
        PutOp(("ana", "memories"), "ok", {"text": "fine"}),
        PutOp(("ana", "memories"), "bad", {"when": object()}),
    ]
    with pytest.raises(ValueError, match="cannot be stored as JSON"):
        store.batch(bad)
    with pytest.raises(ValueError, match="must be a dict"):
        store.batch([PutOp(("ana",), "k", ["not", "a", "dict"])])
    with pytest.raises(ValueError, match="tuple of non-empty strings"):
        store.batch([PutOp(("ana", ""), "k", {"text": "x"})])
    with pytest.raises(ValueError, match="no element 1"):
        EngramStore(memory=store.memory, user_position=1).put(("ana",), "k", {"t": "x"})
    with pytest.raises(ValueError, match="reserved"):
        store.batch([PutOp(("langgraph",), "k", {"text": "x"})])
    assert [(i.namespace, i.key) for i in store.search(("ana",))] == [
        (i.namespace, i.key) for i in before
    ]


def test_memory_that_folds_items_is_refused(tmp_path, connect_remote):
    with pytest.raises(ValueError, match="ITEM_CONFIG"):
        EngramStore(memory=EngramMemory(tmp_path / "m.db", encoder=ENC))
    EngramStore(memory=EngramMemory(tmp_path / "m2.db", encoder=ENC, config=ITEM_CONFIG))
    # a server says which settings it serves: the default ones fold items, ITEM_CONFIG does not
    with pytest.raises(ValueError, match="serve --config"):
        EngramStore(memory=connect_remote())
    assert EngramStore(memory=connect_remote(ITEM_CONFIG)).memory.config == ITEM_CONFIG


def test_persists_across_reopen(tmp_path):
    store = EngramStore(tmp_path / "store.db", encoder=ENC)
    store.put(("ana", "prefs"), "tea", {"text": "I like green tea", "cups": 3})
    store.memory.close()
    reopened = EngramStore(tmp_path / "store.db", encoder=ENC)
    assert reopened.get(("ana", "prefs"), "tea").value == {"text": "I like green tea", "cups": 3}
    assert reopened.list_namespaces() == [("ana", "prefs")]


class UserContext(TypedDict):
    user_id: str


@tool
def save_memory(text: str, runtime: ToolRuntime[UserContext]) -> str:
    """Save a memory about the user."""
    user = runtime.context["user_id"]
    runtime.store.put((user, "memories"), f"m{len(runtime.store.search((user,)))}", {"text": text})
    return "saved"


@tool
def search_memory(query: str, runtime: ToolRuntime[UserContext]) -> str:
    """Search the user's memories."""
    hits = runtime.store.search((runtime.context["user_id"],), query=query, limit=1)
    return hits[0].value["text"] if hits else "nothing"


def test_create_agent_tools_use_the_store_across_sessions(store, scripted):
    first = create_agent(
        scripted(("save_memory", {"text": "My sister is called Priyanka"}), "ok"),
        tools=[save_memory, search_memory],
        store=store,
        context_schema=UserContext,
    )
    first.invoke(
        {"messages": [HumanMessage("Remember: my sister is called Priyanka")]},
        context={"user_id": "carol"},
    )
    second = create_agent(
        scripted(("search_memory", {"query": "sister name"}), "done"),
        tools=[save_memory, search_memory],
        store=EngramStore(memory=store.memory),  # a new session: a new store object
        context_schema=UserContext,
    )
    out = second.invoke(
        {"messages": [HumanMessage("What is my sister called?")]}, context={"user_id": "carol"}
    )
    tool_reply = next(m for m in out["messages"] if m.type == "tool")
    assert tool_reply.content == "My sister is called Priyanka"
    assert store.search(("dave",)) == []  # other users see nothing


def test_empty_scopes(new_store):
    empty = new_store()
    assert empty.search(("nobody",), query="anything") == [] and empty.search(()) == []
    assert empty.list_namespaces() == [] and empty.get(("nobody",), "k") is None
    empty.delete(("nobody",), "k")  # deleting what is not there is a no-op, as in LangGraph
    assert empty.list_namespaces() == []
