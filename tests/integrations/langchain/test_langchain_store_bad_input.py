"""Bad input to the LangGraph `EngramStore`: every verb (put, get, search, delete,
list_namespaces, batch and the async twins) raises our error naming the problem, before anything
is read or written, so the store's rows and audit chain are exactly as they were.

Error types: our `InvalidInputError` everywhere, with one documented exception. LangGraph's
`BaseStore` contract says a bad namespace raises `langgraph.store.base.InvalidNamespaceError`,
and `BaseStore.put/get/search/delete/list_namespaces` check labels themselves before our code
runs (empty labels, non-strings, periods, NUL, the reserved root "langgraph"): those cases assert
LangGraph's type. The namespace problems our code finds raise `InvalidNamespace`, which is both
our `InvalidInputError` and LangGraph's `InvalidNamespaceError`."""

from __future__ import annotations

import asyncio
import math

import pytest
from langgraph.store.base import GetOp, InvalidNamespaceError, ListNamespacesOp, PutOp, SearchOp
from store_state import store_state

from engram_agents import EngramMemory
from engram_agents.errors import InvalidInputError
from engram_agents.store.encoders import HashingEncoder
from langchain_engram.stores import ITEM_CONFIG, EngramStore, InvalidNamespace

NS = ("ana", "memories")
FINE = PutOp(NS, "fine", {"text": "a fine new item"})


@pytest.fixture
def store(tmp_path):
    memory = EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(dim=256), config=ITEM_CONFIG)
    s = EngramStore(memory=memory)
    s.put(NS, "pet", {"text": "I adopted a greyhound, Pixel", "kind": "pet", "age": 3})
    s.put(("bob", "notes"), "tea", {"text": "Bob drinks green tea"}, ttl=60)
    yield s
    memory.close()


# (case, call, error type, message)
BAD_CALLS = [
    # namespaces LangGraph's BaseStore refuses itself, with its own error (its contract)
    ("put empty namespace", lambda s: s.put((), "k", {"text": "a"}),
     InvalidNamespaceError, "Namespace cannot be empty"),
    ("put empty label", lambda s: s.put(("ana", ""), "k", {"text": "a"}),
     InvalidNamespaceError, "cannot be empty strings"),
    ("put int label", lambda s: s.put(("ana", 5), "k", {"text": "a"}),
     InvalidNamespaceError, "must be strings"),
    ("put label with a period", lambda s: s.put(("ana", "a.b"), "k", {"text": "a"}),
     InvalidNamespaceError, "cannot contain periods"),
    ("put reserved root", lambda s: s.put(("langgraph", "x"), "k", {"text": "a"}),
     InvalidNamespaceError, "cannot be \"langgraph\""),
    ("put NUL label", lambda s: s.put(("an\x00a",), "k", {"text": "a"}),
     InvalidNamespaceError, "NUL"),
    ("search empty label", lambda s: s.search(("",)), InvalidNamespaceError, "empty strings"),
    ("delete empty label", lambda s: s.delete(("",), "pet"), InvalidNamespaceError, "empty"),
    ("list_namespaces int prefix", lambda s: s.list_namespaces(prefix=(5,)),
     InvalidNamespaceError, "must be strings"),
    # namespaces our checks refuse: InvalidNamespace (ours and LangGraph's)
    ("put namespace a str", lambda s: s.put("ana", "k", {"text": "a"}),
     InvalidNamespace, "namespace is a tuple of non-empty strings"),
    ("put namespace a list", lambda s: s.put(["ana", "m"], "k", {"text": "a"}),
     InvalidNamespace, "namespace is a tuple"),
    ("put blank user label", lambda s: s.put(("  ", "m"), "k", {"text": "a"}),
     InvalidNamespace, r"namespace element 0 \(the user id\) must be a non-empty string"),
    ("put user label too long", lambda s: s.put(("a" * 300,), "k", {"text": "a"}),
     InvalidNamespace, "longer than 256 characters"),
    ("get namespace a str", lambda s: s.get("ana", "pet"), InvalidNamespace, "got 'ana'"),
    ("get empty namespace", lambda s: s.get((), "pet"),
     InvalidNamespace, r"has no element 0 \(the user scope\)"),
    ("search namespace a str", lambda s: s.search("ana"), InvalidNamespace, "got 'ana'"),
    ("delete empty namespace", lambda s: s.delete((), "pet"), InvalidNamespace, "no element 0"),
    ("delete namespace a str", lambda s: s.delete("ana", "pet"), InvalidNamespace, "tuple"),
    ("list_namespaces prefix a str", lambda s: s.list_namespaces(prefix="ana"),
     InvalidNamespace, "prefix path is a tuple"),
    ("list_namespaces suffix a str", lambda s: s.list_namespaces(suffix="notes"),
     InvalidNamespace, "suffix path is a tuple"),
    ("batch get of an empty label", lambda s: s.batch([GetOp(NS, "pet"), GetOp(("",), "k")]),
     InvalidNamespace, r"got \(''"),
    ("batch put of the reserved root",
     lambda s: s.batch([FINE, PutOp(("langgraph",), "k", {"text": "x"})]),
     InvalidNamespace, "reserved"),
    ("store bound to another user",
     lambda s: EngramStore(memory=s.memory, user_id="bob").put(NS, "k", {"text": "x"}),
     InvalidNamespace, "bound to user 'bob'"),
    # keys
    ("put empty key", lambda s: s.put(NS, "", {"text": "a"}), InvalidInputError, "key is empty"),
    ("put NUL key", lambda s: s.put(NS, "k\x00", {"text": "a"}), InvalidInputError,
     "key contains a NUL"),
    ("batch put int key", lambda s: s.batch([FINE, PutOp(NS, 5, {"text": "a"})]),
     InvalidInputError, "key must be a string, got int"),
    ("get NUL key", lambda s: s.get(NS, "p\x00et"), InvalidInputError, "key contains a NUL"),
    ("delete blank key", lambda s: s.delete(NS, "  "), InvalidInputError, "key is empty"),
    # values (the core's metadata rules: JSON data, finite numbers, string keys)
    ("put value a str", lambda s: s.put(NS, "k", "hello"),
     InvalidInputError, "value for key 'k' must be a dict, got str"),
    ("put value a list", lambda s: s.put(NS, "k", ["hello"]),
     InvalidInputError, "must be a dict, got list"),
    ("put value with an object", lambda s: s.put(NS, "k", {"text": "a", "o": object()}),
     InvalidInputError, r"value for key 'k'\['o'\] is a object, which cannot be stored as JSON"),
    ("put value NaN", lambda s: s.put(NS, "k", {"text": "a", "p": math.nan}),
     InvalidInputError, r"value for key 'k'\['p'\] is nan"),
    ("put value nested inf", lambda s: s.put(NS, "k", {"text": "a", "p": [1, math.inf]}),
     InvalidInputError, r"\['p'\]\[1\] is inf"),
    ("put value non-string key", lambda s: s.put(NS, "k", {1: "a"}),
     InvalidInputError, "non-string key 1"),
    ("put text with NUL", lambda s: s.put(NS, "k", {"text": "a\x00b"}),
     InvalidInputError, "indexed text of key 'k' contains a NUL"),
    ("put text too large", lambda s: s.put(NS, "k", {"text": "x" * 1_000_001}),
     InvalidInputError, "limit is 1000000 bytes"),
    # put options
    ("put ttl negative", lambda s: s.put(NS, "k", {"text": "a"}, ttl=-1),
     InvalidInputError, "ttl must be a positive number of minutes, got -1"),
    ("put ttl a str", lambda s: s.put(NS, "k", {"text": "a"}, ttl="5"),
     InvalidInputError, "ttl must be a positive number"),
    ("put ttl NaN", lambda s: s.put(NS, "k", {"text": "a"}, ttl=math.nan),
     InvalidInputError, "got nan"),
    ("put index a str", lambda s: s.put(NS, "k", {"text": "a"}, index="text"),
     InvalidInputError, "index must be False, None or a list of field paths"),
    ("put index of ints", lambda s: s.put(NS, "k", {"text": "a"}, index=[5]),
     InvalidInputError, "list of field paths, got \\[5\\]"),
    # search: query, filter, limit, offset
    ("search query an int", lambda s: s.search(("ana",), query=5),
     InvalidInputError, "query must be a string"),
    ("search query NUL", lambda s: s.search(("ana",), query="pet\x00"),
     InvalidInputError, "query contains a NUL"),
    ("search query blank", lambda s: s.search(("ana",), query="   "),
     InvalidInputError, "query is empty"),
    ("search filter a str", lambda s: s.search(("ana",), filter="kind=pet"),
     InvalidInputError, "filter must be a dict"),
    ("search unknown operator", lambda s: s.search(("ana",), filter={"age": {"$bogus": 1}}),
     InvalidInputError, r"unsupported filter operator '\$bogus' in filter\['age'\]"),
    ("search ordering a str", lambda s: s.search(("ana",), filter={"age": {"$gt": "abc"}}),
     InvalidInputError, r"filter\['age'\]\['\$gt'\] must be a number"),
    ("search filter non-string key", lambda s: s.search(("ana",), filter={1: "x"}),
     InvalidInputError, "filter has a non-string key 1"),
    ("search limit negative", lambda s: s.search(("ana",), limit=-1),
     InvalidInputError, "limit must be an integer >= 0, got -1"),
    ("search limit a str", lambda s: s.search(("ana",), limit="5"),
     InvalidInputError, "limit must be an integer"),
    ("search limit a float", lambda s: s.search(("ana",), limit=2.5),
     InvalidInputError, "got 2.5"),
    ("search offset None", lambda s: s.search(("ana",), offset=None),
     InvalidInputError, "offset must be an integer >= 0, got None"),
    # list_namespaces
    ("list_namespaces limit negative", lambda s: s.list_namespaces(limit=-1),
     InvalidInputError, "limit must be an integer >= 0"),
    ("list_namespaces offset negative", lambda s: s.list_namespaces(offset=-1),
     InvalidInputError, "offset must be an integer >= 0"),
    ("list_namespaces max_depth 0", lambda s: s.list_namespaces(max_depth=0),
     InvalidInputError, "max_depth must be an integer >= 1, got 0"),
    ("list_namespaces max_depth a str", lambda s: s.list_namespaces(max_depth="x"),
     InvalidInputError, "max_depth must be an integer"),
    # batch: every op is checked before any runs
    ("batch None", lambda s: s.batch(None), InvalidInputError, "batch takes a list of ops"),
    ("batch one op, unlisted", lambda s: s.batch(FINE),
     InvalidInputError, "batch takes a list of ops, got PutOp"),
    ("batch a str op", lambda s: s.batch([FINE, "get"]),
     InvalidInputError, "op 1: EngramStore cannot run str"),
    ("batch good put, bad put", lambda s: s.batch([FINE, PutOp(NS, "k", "bad")]),
     InvalidInputError, "must be a dict"),
    ("batch good reads, bad search",
     lambda s: s.batch([GetOp(NS, "pet"), FINE, SearchOp(("ana",), limit=-1)]),
     InvalidInputError, "limit must be an integer"),
    ("batch list_namespaces bad depth",
     lambda s: s.batch([FINE, ListNamespacesOp(max_depth=-2)]),
     InvalidInputError, "max_depth must be an integer >= 1"),
    # the async twins
    ("aput value a str", lambda s: asyncio.run(s.aput(NS, "k", "bad")),
     InvalidInputError, "must be a dict"),
    ("aget namespace a str", lambda s: asyncio.run(s.aget("ana", "pet")),
     InvalidNamespace, "tuple"),
    ("asearch limit negative", lambda s: asyncio.run(s.asearch(("ana",), limit=-3)),
     InvalidInputError, "limit must be an integer"),
    ("adelete NUL key", lambda s: asyncio.run(s.adelete(NS, "\x00")),
     InvalidInputError, "key contains a NUL"),
    ("alist_namespaces limit a str", lambda s: asyncio.run(s.alist_namespaces(limit="x")),
     InvalidInputError, "limit must be an integer"),
    ("abatch good put, bad put", lambda s: asyncio.run(s.abatch([FINE, PutOp(NS, "k", 5)])),
     InvalidInputError, "must be a dict, got int"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "message"), [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS]
)
def test_bad_input_gets_our_error_and_changes_nothing(store, call, error, message):
    before = store_state(store.memory)
    with pytest.raises(error, match=message):
        call(store)
    assert store_state(store.memory) == before  # rows of every table, and the audit chain


def test_the_store_still_works_after_the_refusals(store):
    store.put(NS, "k", {"text": "my dog Pixel likes the beach", "kind": "pet", "age": 4})
    older = store.search(("ana",), query="dog", filter={"age": {"$gt": 3}})
    assert [i.key for i in older] == ["k"]
