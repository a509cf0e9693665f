"""`recall_many` ranks a batch of recalls together (one lock, one index check and one row read
per user, one write-behind): each item's hits must be exactly those of recalling the items one
after another, access counts and audit entries included, and a bad item fails only itself."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from engram_agents.errors import InvalidInputError
from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.encoders import HashingEncoder
from engram_agents.store.ranker import RecallItem
from engram_agents.store.records import RecallFilters, Tier, TimeRange

WORDS = "dog dentist flight sister guitar budget garden tea paris rex marathon piano".split()
USERS = ["ana", "bo", "cy"]
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def seeded(path, config: StoreConfig) -> EngramMemory:
    rng = random.Random(7)
    memory = EngramMemory(path, encoder=HashingEncoder(64), config=config)
    for user in USERS:
        items = [
            {
                "text": " ".join(rng.sample(WORDS, 4)) + f" on day {rng.randint(1, 28)}",
                "session_id": rng.choice(["s1", "s2", None]),
                "agent_id": rng.choice(["planner", None]),
                "event_time": (NOW - timedelta(days=rng.randint(0, 60))).isoformat(),
            }
            for _ in range(60)
        ]
        memory.remember_many(items, user)
    memory.consolidate("ana")  # some long-term engrams, so the tier filter has both
    return memory


def random_items(rng: random.Random, n: int) -> list[RecallItem]:
    items = []
    for _ in range(n):
        filters = rng.choice(
            [
                None,
                RecallFilters(tier=rng.choice([Tier.SHORT, Tier.LONG])),
                RecallFilters(agent_id="planner"),
                RecallFilters(session_id="s1", include_superseded=True),
                RecallFilters(time_range=TimeRange(start=NOW - timedelta(days=20), end=NOW)),
            ]
        )
        query = f"what about the {rng.choice(WORDS)} and {rng.choice(WORDS)} last week?"
        user = rng.choice([*USERS, "nobody"])  # "nobody" has no engrams
        items.append(RecallItem(user, query, rng.randint(1, 8), filters, NOW))
    return items


def comparable(hits) -> list[dict]:
    """The hits as data, without the time of the last access (each recall has its own)."""
    return [h.model_dump(exclude={"engram": {"stats": {"last_access"}}}) for h in hits]


@pytest.mark.parametrize("full_scan_below", [5_000, 20])  # small scopes, and the two stages
def test_a_batch_ranks_as_recalling_its_items_one_by_one(tmp_path, full_scan_below):
    config = StoreConfig(full_scan_below=full_scan_below)
    seeded(tmp_path / "a.db", config).close()
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    batched = EngramMemory(tmp_path / "a.db", encoder=HashingEncoder(64), config=config)
    alone = EngramMemory(tmp_path / "b.db", encoder=HashingEncoder(64), config=config)
    items = random_items(random.Random(full_scan_below), 40)
    bad = [
        RecallItem("ana", "", 3),
        RecallItem("ana", "dog", 0),
        RecallItem("bo", "tea", 3, RecallFilters(tags=["not-a-tag-anywhere"]), NOW),
    ]
    items[5:5] = bad[:2]
    items.append(bad[2])

    results = batched.store.recall_many(items)
    assert isinstance(results[5], InvalidInputError) and isinstance(results[6], InvalidInputError)
    returned = [h.engram.id for r in results if isinstance(r, list) for h in r]
    assert len(returned) > len(set(returned))  # some engram is returned twice: counts matter
    for item, result in zip(items, results, strict=True):
        try:
            expected = alone.store.recall_item(item)
        except InvalidInputError as exc:
            assert type(result) is type(exc) and str(result) == str(exc)
            continue
        assert comparable(result) == comparable(expected)
    for user in USERS:  # the same counts and audit entries were written
        assert [e.stats.activations for e in batched.list(user)] == [
            e.stats.activations for e in alone.list(user)
        ]
    entries = [
        [(e.user_id, e.action, e.engram_ids, e.detail) for e in m.store.backend.audit_events()]
        for m in (batched, alone)
    ]
    assert entries[0] == entries[1]
    batched.close()
    alone.close()


def test_an_item_whose_ranking_fails_fails_alone_and_is_not_audited(tmp_path, monkeypatch):
    memory = seeded(tmp_path / "m.db", StoreConfig())
    store = memory.store
    rank = store._rank

    def rank_or_fail(user_id, index, q):
        if "broken" in q.text:
            raise RuntimeError("this ranking broke")
        return rank(user_id, index, q)

    monkeypatch.setattr(store, "_rank", rank_or_fail)
    items = [RecallItem("ana", "the dog", 3), RecallItem("ana", "broken dog", 3)]
    items.append(RecallItem("bo", "the tea", 2))
    before = len(store.backend.audit_events("ana"))
    dog, broken, tea = store.recall_many(items)
    assert isinstance(broken, RuntimeError)
    assert len(dog) == 3 and len(tea) == 2
    assert len(store.backend.audit_events("ana")) == before + 1  # the dog recall only
    assert store.recall_many([]) == []
    memory.close()


def test_one_read_of_several_users_rows_keeps_each_user_to_their_own(tmp_path):
    memory = seeded(tmp_path / "m.db", StoreConfig())
    ana, bo = (memory.list(user)[0].id for user in ("ana", "bo"))
    got = memory.store.backend.get_many({"ana": [bo, ana, "no-such-id"], "bo": [bo]})
    assert {u: [r.id for r in rows] for u, rows in got.items()} == {"ana": [ana], "bo": [bo]}
    revisions = memory.store.backend.revisions(["ana", "nobody"])
    assert revisions == {"ana": memory.store.backend.revision("ana"), "nobody": 0}
    memory.close()


def test_hit_rows_read_for_records_decode_as_full_rows_with_waiting_counts(tmp_path):
    """Recall reads its hits without tags and vector (`records_many`): each decodes to the very
    record a full read gives, the access counts still waiting in memory included."""
    memory = seeded(tmp_path / "m.db", StoreConfig())
    store = memory.store
    ana, bo = (memory.list(user)[0].id for user in ("ana", "bo"))
    memory.recall("dog dentist flight", "ana", k=5)  # counts that wait in the touch buffer
    assert store.backend.pending() > 0
    wanted = {"ana": [bo, ana, "no-such-id"], "bo": [bo]}
    full, light = store.backend.get_many(wanted), store.backend.records_many(wanted)
    assert {u: [r.id for r in rows] for u, rows in light.items()} == {"ana": [ana], "bo": [bo]}
    for user, rows in light.items():
        assert [store.codec.to_engram(r) for r in rows] == [
            store.codec.to_engram(r) for r in full[user]
        ]
        assert all(r.tags == [] and r.vector.size == 0 for r in rows)  # what was not read
    memory.close()
