"""EngramStore against LangGraph's BaseStore contract.

LangGraph ships no importable conformance suite for BaseStore (langgraph 1.x and
langgraph-checkpoint hold none; langchain-tests covers the key-value `langchain_core` store
only), so the same cases run here against EngramStore and LangGraph's own InMemoryStore, the
reference: put/get/delete, search with filters, limits and offsets, list_namespaces with
prefix/suffix/wildcards/max_depth, batch and abatch ordering. Orders LangGraph leaves open (a
search without a query) are compared as sets. Then what InMemoryStore lacks: TTL (expiry on
put, refresh on read, sweeping), `index=False` puts, and a store bound to one user.

Every case runs twice: on a SQLite file in this process, and over `EngramMemory.remote` to a
real `engram-agents serve` app on 127.0.0.1 (the `new_store` fixture).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore

from engram_agents.errors import InvalidInputError
from engram_agents.store.encoders import HashingEncoder
from langchain_engram import EngramStore, _store_items

ENC = HashingEncoder(dim=256)
ITEMS = [
    (("ana", "memories"), "pet", {"text": "Pixel is a greyhound", "kind": "pet", "age": 3}),
    (("ana", "memories"), "vet", {"text": "Vet on Friday", "kind": "health", "age": 1}),
    (("ana", "memories", "work"), "desk", {"text": "Desk 4B", "tags": ["office", "4B"], "age": 2}),
    (("ana", "prefs"), "tea", {"text": "Green tea", "cups": 3, "age": 5, "meta": {"hot": True}}),
    (("bob", "memories"), "pet", {"text": "Miso is a cat", "kind": "pet", "age": 7}),
    (("bob", "memories", "old"), "car", {"text": "A red car", "kind": "thing", "age": 9}),
    (("carol", "prefs"), "tea", {"text": "Black tea", "cups": 1, "age": 4, "meta": {"hot": False}}),
]


def fill(store: BaseStore) -> BaseStore:
    for namespace, key, value in ITEMS:
        store.put(namespace, key, value)
    return store


@pytest.fixture
def pair(new_store) -> tuple[EngramStore, InMemoryStore]:
    """EngramStore (in this process, and on a server) beside the reference, holding ITEMS."""
    return fill(new_store()), fill(InMemoryStore())


def seen(result):
    """A result without what LangGraph leaves to the store (times, search order, scores)."""
    if isinstance(result, Item):
        return (result.namespace, result.key, result.value)
    if isinstance(result, list) and result and isinstance(result[0], Item):
        return sorted(seen(i) for i in result)
    return result


FILTERS = [
    None,
    {"kind": "pet"},
    {"kind": "pet", "age": 3},
    {"age": {"$gt": 1}},
    {"age": {"$gte": 1, "$lt": 7}},
    {"age": {"$lte": 3}},
    {"kind": {"$ne": "pet"}},
    {"kind": {"$eq": "health"}},
    {"meta": {"hot": True}},
    {"tags": ["office", "4B"]},
    {"tags": ["4B", "office"]},
    {"missing": "x"},
]
PREFIXES = [(), ("ana",), ("ana", "memories"), ("bob", "memories", "old"), ("dave",)]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("filter", FILTERS)
def test_search_filters_match_the_reference(pair, prefix, filter):
    engram, reference = pair
    assert seen(engram.search(prefix, filter=filter)) == seen(
        reference.search(prefix, filter=filter)
    )


def test_limits_and_offsets_page_through_every_item(pair):
    engram, reference = pair
    everything = engram.search((), limit=100)
    assert seen(everything) == seen(reference.search((), limit=100)) and len(everything) == 7
    for limit in (1, 2, 3, 7, 10):
        for offset in range(9):
            page = engram.search((), limit=limit, offset=offset)
            assert len(page) == len(reference.search((), limit=limit, offset=offset))
            assert [(i.namespace, i.key) for i in page] == [
                (i.namespace, i.key) for i in everything[offset : offset + limit]
            ]
    assert len(engram.search(())) == 7  # the default limit (10) holds them all


LISTINGS = [
    {},
    {"prefix": ("ana",)},
    {"prefix": ("ana", "memories")},
    {"prefix": ("*", "memories")},
    {"suffix": ("prefs",)},
    {"suffix": ("memories", "*")},
    {"prefix": ("ana",), "suffix": ("work",)},
    {"max_depth": 1},
    {"max_depth": 2},
    {"prefix": ("*", "memories"), "max_depth": 2},
    {"limit": 2},
    {"limit": 2, "offset": 2},
    {"offset": 5},
    {"prefix": ("nobody",)},
]


@pytest.mark.parametrize("options", LISTINGS)
def test_list_namespaces_matches_the_reference(pair, options):
    engram, reference = pair
    assert engram.list_namespaces(**options) == reference.list_namespaces(**options)


def test_put_get_overwrite_delete_match_the_reference(pair):
    engram, reference = pair
    for store in pair:
        store.put(("ana", "memories"), "pet", {"text": "Pixel is a whippet"})
        store.delete(("bob", "memories", "old"), "car")
        store.delete(("bob", "memories"), "nothing")  # deleting what is not there: a no-op
    for namespace, key, _ in [*ITEMS, (("ana",), "x", None), (("ana", "memories"), "x", None)]:
        assert seen(engram.get(namespace, key)) == seen(reference.get(namespace, key))
    # InMemoryStore keeps a namespace once read or emptied; like LangGraph's PostgresStore,
    # EngramStore lists the namespaces that hold items
    holding = sorted({i.namespace for i in reference.search((), limit=100)})
    assert engram.list_namespaces() == holding
    first, again = engram.get(("ana", "prefs"), "tea"), engram.get(("ana", "memories"), "pet")
    assert first.created_at == first.updated_at and again.updated_at > again.created_at


def test_batch_results_come_in_the_order_of_the_ops(pair):
    ops = [
        GetOp(("ana", "prefs"), "tea"),
        PutOp(("dave", "notes"), "a", {"text": "Call mum", "n": 1}),
        SearchOp(("dave",), filter={"n": 1}),
        GetOp(("dave", "notes"), "a"),
        PutOp(("dave", "notes"), "a", None),
        GetOp(("dave", "notes"), "a"),
        ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("dave",)),)),
        SearchOp(("ana",), filter={"kind": "pet"}, limit=1),
    ]
    engram, reference = pair
    results = [seen(r) for r in engram.batch(ops)]
    expected = [seen(r) for r in reference.batch(ops)]
    # (InMemoryStore lists ("dave", "notes") only because the get of op 3 created it, empty)
    assert results[:6] + results[7:] == expected[:6] + expected[7:]
    # reads see the store as it was before the batch; the puts follow in order
    assert results[0][2]["text"] == "Green tea" and results[2:4] == [[], None]
    assert results[6] == [] and [k for _, k, _ in results[7]] == ["pet"]
    for store in pair:
        assert store.get(("dave", "notes"), "a") is None  # the delete came last
        store.batch([PutOp(("dave",), "b", {"v": 1}), PutOp(("dave",), "b", {"v": 2})])
        assert store.get(("dave",), "b").value == {"v": 2}  # the last put of a key wins


async def test_abatch_matches_batch(pair):
    engram, reference = pair
    ops = [
        PutOp(("erin",), "k", {"text": "hello"}),
        GetOp(("erin",), "k"),
        SearchOp(("erin",)),
        ListNamespacesOp(match_conditions=(MatchCondition("suffix", ("prefs",)),), max_depth=1),
    ]
    got = [seen(r) for r in await engram.abatch(ops)]
    assert got == [seen(r) for r in await reference.abatch(ops)]
    assert got[1:3] == [None, []]
    assert seen(await engram.aget(("erin",), "k")) == (("erin",), "k", {"text": "hello"})


def test_query_search_ranks_every_item_best_first(pair):
    engram, _ = pair
    hits = engram.search(("ana",), query="greyhound Pixel")
    assert hits[0].key == "pet" and len(hits) == 4  # a query ranks; it does not filter
    scores = [h.score for h in hits]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)


def test_index_false_items_are_kept_but_rank_last_unscored(new_store):
    store = new_store()
    store.put(("ana",), "plain", {"text": "greyhound greyhound greyhound"}, index=False)
    store.put(("ana",), "indexed", {"text": "a cat called Miso"})
    assert store.get(("ana",), "plain").value == {"text": "greyhound greyhound greyhound"}
    hits = store.search(("ana",), query="greyhound")
    assert [(h.key, h.score is None) for h in hits] == [("indexed", False), ("plain", True)]
    assert [h.key for h in store.search(("ana",), filter={"text": {"$ne": "x"}})] == [
        "plain",
        "indexed",
    ]
    store.put(("ana",), "plain", {"text": "greyhound greyhound greyhound"})  # indexed now
    assert store.search(("ana",), query="greyhound")[0].key == "plain"


# -- TTL --------------------------------------------------------------------------------
class Clock:
    """The store's clock, moved by the test (no sleeping)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(_store_items, "now", clock)
    return clock


@pytest.fixture
def ttl_store(new_store) -> EngramStore:
    return new_store()


def test_expired_items_vanish_and_are_swept(ttl_store, clock):
    assert ttl_store.supports_ttl
    ttl_store.put(("ana", "notes"), "short", {"text": "Parking in bay 12"}, ttl=1)
    ttl_store.put(("ana", "notes"), "kept", {"text": "Keys on the hook"})
    ttl_store.put(("bob", "notes"), "short", {"text": "Bob parks in bay 3"}, ttl=1)
    assert ttl_store.get(("ana", "notes"), "short").value["text"] == "Parking in bay 12"
    clock.advance(2)
    assert ttl_store.get(("ana", "notes"), "short") is None
    assert [i.key for i in ttl_store.search(("ana",), query="parking bay")] == ["kept"]
    assert len(ttl_store.memory.list("ana")) == 2  # invisible, not yet deleted
    assert ttl_store.sweep_ttl() == 2
    assert [e.metadata.extra["key"] for e in ttl_store.memory.list("ana")] == ["kept"]
    assert ttl_store.memory.list("bob") == []
    assert ttl_store.list_namespaces() == [("ana", "notes")]
    assert ttl_store.sweep_ttl() == 0


def test_reads_refresh_the_ttl_unless_told_not_to(ttl_store, clock):
    ttl_store.put(("ana",), "get", {"text": "Gate code 4711"}, ttl=10)
    ttl_store.put(("ana",), "search", {"text": "Wifi is Gandalf"}, ttl=10)
    ttl_store.put(("ana",), "untouched", {"text": "Bins go out on Monday"}, ttl=10)
    clock.advance(8)
    ttl_store.get(("ana",), "get")
    ttl_store.search(("ana",), filter={"text": "Wifi is Gandalf"})
    ttl_store.get(("ana",), "untouched", refresh_ttl=False)
    ttl_store.search(("ana",), filter={"text": "Bins go out on Monday"}, refresh_ttl=False)
    clock.advance(7)  # 15 minutes after the puts, 7 after the reads
    assert sorted(i.key for i in ttl_store.search(("ana",), refresh_ttl=False)) == [
        "get",
        "search",
    ]
    clock.advance(4)
    assert ttl_store.search(("ana",)) == []
    assert all(e.history == [] for e in ttl_store.memory.list("ana"))  # refreshes add none


def test_ttl_config_defaults_and_overwrites(new_store, clock):
    store = new_store(ttl={"default_ttl": 5, "refresh_on_read": False})
    store.put(("ana",), "a", {"text": "Default expiry"})
    store.put(("ana",), "b", {"text": "Never expires"}, ttl=None)
    store.put(("ana",), "c", {"text": "Set again before it expires"}, ttl=4)
    clock.advance(3)
    store.get(("ana",), "a")  # refresh_on_read=False: no refresh
    store.put(("ana",), "c", {"text": "Set again without a TTL"}, ttl=None)
    again = store.get(("ana",), "c")
    assert again.created_at < again.updated_at  # c was alive: overwritten, not recreated
    clock.advance(3)
    assert sorted(i.key for i in store.search(("ana",))) == ["b", "c"]
    store.put(("ana",), "a", {"text": "Back after expiring"})
    revived = store.get(("ana",), "a")
    assert revived.created_at == revived.updated_at  # a new item, not the expired one
    assert store.sweep_ttl() == 0 and len(store.memory.list("ana")) == 3


@pytest.mark.parametrize("ttl", [0, -1.0, True])
def test_bad_ttl_writes_nothing(ttl_store, ttl):
    with pytest.raises(ValueError, match="ttl must be a positive number of minutes"):
        ttl_store.batch([PutOp(("ana",), "ok", {"text": "x"}), PutOp(("ana",), "k", {}, ttl=ttl)])
    assert ttl_store.search(("ana",)) == []


def test_sweeper_thread_deletes_expired_items(ttl_store, clock):
    ttl_store.put(("ana",), "short", {"text": "Soon gone"}, ttl=1)
    clock.advance(2)
    ttl_store.start_ttl_sweeper(sweep_interval_minutes=0.001)
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while ttl_store.memory.list("ana") and datetime.now(UTC) < deadline:
            time.sleep(0.05)
    finally:
        assert ttl_store.stop_ttl_sweeper(timeout=10)
    assert ttl_store.memory.list("ana") == []


# -- one user per store -------------------------------------------------------------------
def test_a_store_bound_to_one_user_sees_only_that_user(pair, tmp_path):
    shared = pair[0]
    ana = EngramStore(memory=shared.memory, user_id="ana")
    assert {i.namespace[0] for i in ana.search(())} == {"ana"}
    assert {i.namespace[0] for i in ana.search((), query="tea")} == {"ana"}
    assert ana.list_namespaces() == [
        ("ana", "memories"),
        ("ana", "memories", "work"),
        ("ana", "prefs"),
    ]
    assert ana.list_namespaces(max_depth=1) == [("ana",)]
    ana.put(("ana", "prefs"), "coffee", {"text": "No coffee after 3 pm"})
    for attempt in (
        lambda: ana.put(("bob", "memories"), "pet", {"text": "Bob has no cat"}),
        lambda: ana.delete(("bob", "memories"), "pet"),
        lambda: ana.get(("bob", "memories"), "pet"),
        lambda: ana.search(("bob",)),
    ):
        with pytest.raises(ValueError, match=r"bound to user 'ana'; namespace .* belongs to 'bob'"):
            attempt()
    assert shared.get(("bob", "memories"), "pet").value["text"] == "Miso is a cat"
    # the unbound store spans every user: search(()) and list_namespaces() cover them all
    assert {i.namespace[0] for i in shared.search(())} == {"ana", "bob", "carol"}
    assert len(shared.list_namespaces(max_depth=1)) == 3
    with pytest.raises(ValueError, match="user_id must be a non-empty string"):
        EngramStore(tmp_path / "x.db", encoder=ENC, user_id="")
    # the core's one id rule (engram_agents.chat.check_id), not a looser copy of it
    with pytest.raises(InvalidInputError, match="user_id must be a non-empty string"):
        EngramStore(tmp_path / "y.db", encoder=ENC, user_id="   ")
    with pytest.raises(InvalidInputError, match="user_id is longer than 256"):
        EngramStore(tmp_path / "z.db", encoder=ENC, user_id="a" * 257)
