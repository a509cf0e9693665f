"""Backend-agnostic behaviour: every test runs on SQLite, local Chroma and a Chroma server."""

from __future__ import annotations

import json

import pytest

from engram_agents.store.config import StoreConfig
from engram_agents.store.errors import InvalidInputError, NotFoundError
from engram_agents.store.records import Evidence, Tier

FACTS = [
    "Caroline adopted a golden retriever puppy named Biscuit",
    "Melanie is training for the Boston marathon in April",
    "The team standup moved to 9:30 am on Tuesdays",
    "Caroline's favourite painter is Frida Kahlo",
    "We are renovating the kitchen with oak cabinets",
]


def test_remember_recall_roundtrip_and_reopen(make_memory):
    mem = make_memory()
    stored = mem.remember_many(FACTS, user_id="u1", session_id="s1")
    assert [e.text for e in stored] == FACTS
    hits = mem.recall("the puppy Caroline adopted: what is its name?", "u1", k=3)
    assert hits[0].engram.text == FACTS[0]
    assert "name:caroline" in hits[0].matched_tags or "kw:puppi" in hits[0].matched_tags
    assert "matched tags" in hits[0].explanation
    assert hits[0].score >= hits[-1].score
    reopened = make_memory()
    again = reopened.get(stored[0].id, "u1")
    assert again.text == FACTS[0] and again.scope.session_id == "s1"
    assert again.sketch == stored[0].sketch
    assert reopened.recall("Boston marathon", "u1", k=1)[0].engram.id == stored[1].id


def test_scopes_are_isolated(make_memory):
    mem = make_memory()
    secret = mem.remember("Bob's locker code is 4471", "bob")
    mem.remember("Alice likes jazz", "alice")
    assert all(h.engram.scope.user_id == "alice" for h in mem.recall("locker code", "alice"))
    with pytest.raises(NotFoundError):
        mem.get(secret.id, "alice")
    with pytest.raises(NotFoundError):
        mem.delete(secret.id, "alice")
    assert mem.get(secret.id, "bob").text == secret.text
    assert [e.scope.user_id for e in mem.list("alice")] == ["alice"]


def test_update_reencodes_and_keeps_history(make_memory):
    mem = make_memory()
    e = mem.remember("The wifi password hint is the cat's name", "u", redact=False)
    updated = mem.update(e.id, "u", text="Dinner with Priya is at the Thai place on Friday")
    assert updated.history[-1].text == e.text
    assert "name:priya" in updated.sketch
    hit = mem.recall("Thai dinner with Priya", "u", k=1)[0]
    assert hit.engram.id == e.id and hit.engram.text.startswith("Dinner")
    assert make_memory().get(e.id, "u").history[-1].action == "updated"


def test_update_of_metadata_alone_adds_no_history(make_memory):
    mem = make_memory()
    e = mem.remember("The gate code is 4711", "u")
    touched = mem.update(e.id, "u", metadata={"expires_at": "2030-01-01"})
    assert touched.history == [] and touched.metadata.extra["expires_at"] == "2030-01-01"
    assert make_memory().get(e.id, "u").history == []


def test_delete_is_hard_and_all_or_nothing(make_memory):
    mem = make_memory()
    a, b = mem.remember_many(["alpha note about sailing", "beta note about chess"], "u")
    with pytest.raises(NotFoundError):
        mem.delete([a.id, "missing"], "u")
    assert len(mem.list("u")) == 2  # nothing deleted
    assert mem.delete(a.id, "u") == 1
    assert [e.id for e in make_memory().list("u")] == [b.id]
    assert all(h.engram.id != a.id for h in mem.recall("sailing", "u"))
    assert mem.store._index("u").posting("kw:sail").size == 0


def test_forget_by_session_and_requires_selector(make_memory):
    mem = make_memory()
    mem.remember("trip planning for Lisbon", "u", session_id="s1")
    mem.remember("grocery list with lemons", "u", session_id="s2")
    with pytest.raises(InvalidInputError, match="selector"):
        mem.forget("u")
    assert mem.forget("u", session_id="s1") == 1
    assert [e.scope.session_id for e in mem.list("u")] == ["s2"]


def test_export_is_json_and_complete(make_memory, tmp_path):
    mem = make_memory()
    mem.remember_many(FACTS[:2], "u", session_id="s")
    data = mem.export("u", tmp_path / "export.json")
    loaded = json.loads((tmp_path / "export.json").read_text())
    assert loaded == json.loads(json.dumps(data))
    assert sorted(e["text"] for e in loaded["engrams"]) == sorted(FACTS[:2])
    assert {a["action"] for a in loaded["audit"]} >= {"remember", "export"}


def test_near_duplicate_reinforces_and_keeps_pointers(make_memory):
    mem = make_memory()
    first = mem.remember(
        "Caroline went to the pottery class", "u", evidence=[Evidence(turn_id="D1:1")]
    )
    again = mem.remember(
        "Caroline went to the pottery class", "u", evidence=[Evidence(turn_id="D1:7")]
    )
    assert again.id == first.id
    stored = make_memory().list("u")
    assert len(stored) == 1
    assert [p.turn_id for p in stored[0].metadata.evidence] == ["D1:1", "D1:7"]
    assert stored[0].stats.activations == 1


def test_supersede_hides_old_version_but_keeps_it(make_memory):
    mem = make_memory(config=StoreConfig(supersede_similarity=0.3))
    old = mem.remember("My dentist appointment is on 5 June at 3 pm", "u", event_time="2024-05-01")
    new = mem.remember("My dentist appointment moved to 9 June at 3 pm", "u")
    assert new.history[0].engram_id == old.id
    assert [h.engram.id for h in mem.recall("dentist appointment", "u")] == [new.id]
    everything = mem.list("u", include_superseded=True)
    assert {e.id: e.superseded_by for e in everything}[old.id] == new.id
    hits = mem.recall("dentist appointment", "u", include_superseded=True)
    assert {h.engram.id for h in hits} == {old.id, new.id}


def test_feedback_changes_usefulness_and_learns_weights(make_memory):
    mem = make_memory()
    mem.remember_many(FACTS, "u")
    hits = mem.recall("Caroline painter", "u", k=3)
    before = mem.store.weights("u")
    after = mem.feedback(hits[0].engram.id, "u", useful=True)
    assert after != before
    assert make_memory().store.weights("u") == after
    assert mem.get(hits[0].engram.id, "u").stats.usefulness == 1.0
    assert mem.get(hits[0].engram.id, "u").stats.activations == 1


def test_feedback_learns_from_the_latest_recalls_with_memory_bounded_over_all_users(
    make_memory, monkeypatch
):
    """The features feedback learns from are kept for the last few recalled hits of all users
    together, so a server with many users holds a bounded amount; the latest hits still learn."""
    monkeypatch.setattr("engram_agents.store.core.RECALLED_FEATURES", 4)
    mem = make_memory()
    for user in ("a", "b", "c"):
        mem.remember_many(FACTS, user)
        mem.recall("Caroline painter", user, k=3)
    assert len(mem.store._last_features._values) == 4
    before_a, before_c = mem.store.weights("a"), mem.store.weights("c")
    stale = mem.recall("Caroline painter", "a", k=3)[0].engram.id
    mem.recall("Caroline painter", "b", k=3)  # pushes user a's hits out
    assert mem.feedback(stale, "a", useful=True) == before_a  # nothing left to learn from
    fresh = mem.recall("Caroline painter", "c", k=3)[0].engram.id
    assert mem.feedback(fresh, "c", useful=True) != before_c


def test_consolidate_merges_promotes_and_keeps_every_pointer(make_memory):
    mem = make_memory(config=StoreConfig(merge_similarity=0.6, merge_keyword_overlap=0.5))
    texts = [
        "Caroline joined the Saturday pottery class",
        "Caroline joined the Saturday pottery class downtown",
        "Melanie bought running shoes for the marathon",
    ]
    stored = [
        mem.remember(t, "u", evidence=[Evidence(turn_id=f"D1:{n}")]) for n, t in enumerate(texts)
    ]
    mem.feedback(stored[2].id, "u", useful=True)
    report = mem.consolidate("u")
    assert len(report.merged) == 1
    merged_id, sources = next(iter(report.merged.items()))
    assert set(sources) == {stored[0].id, stored[1].id}
    assert report.promoted == [stored[2].id]
    engrams = {e.id: e for e in make_memory().list("u")}
    merged = engrams[merged_id]
    assert merged.tier == Tier.LONG and engrams[stored[2].id].tier == Tier.LONG
    turns = {p.turn_id for p in merged.metadata.evidence if p.turn_id}
    assert turns == {"D1:0", "D1:1"}
    assert {p.engram_id for p in merged.metadata.evidence if p.engram_id} == set(sources)
    assert mem.recall("pottery class", "u", k=1)[0].engram.id == merged_id


def test_short_term_capacity_evicts_least_recently_used(make_memory):
    mem = make_memory(config=StoreConfig(short_term_capacity=2))
    a, b, c = mem.remember_many(["apples in autumn", "bicycles on bridges", "cello lessons"], "u")
    mem.recall("cello", "u", k=1)
    mem.recall("bicycles", "u", k=1)
    report = mem.consolidate("u")
    assert report.evicted == [a.id]
    assert {e.id for e in mem.list("u")} == {b.id, c.id}


def test_audit_log_chains_every_operation(make_memory):
    mem = make_memory()
    e = mem.remember("note one about kayaks", "u")
    mem.recall("kayaks", "u")
    mem.get(e.id, "u")
    mem.delete(e.id, "u")
    actions = [ev.action for ev in mem.store.backend.audit_events("u")]
    assert actions == ["remember", "recall", "get", "delete"]
    assert mem.verify_audit() == 4


def test_filters_on_time_tags_session_and_tier(make_memory):
    mem = make_memory()
    mem.remember("hiked Mount Tam with Jo", "u", event_time="2024-05-02", session_id="a")
    mem.remember("hiked the Dolomites with Jo", "u", event_time="2023-08-10", session_id="b")
    in_may = mem.recall("hiking with Jo", "u", time_range="in May 2024", now="2024-06-01")
    assert [h.engram.text for h in in_may] == ["hiked Mount Tam with Jo"]
    by_session = mem.recall("hiking", "u", session_id="b")
    assert [h.engram.scope.session_id for h in by_session] == ["b"]
    by_tag = mem.recall("hiking", "u", tags=["name:dolomites"])
    assert [h.engram.text for h in by_tag] == ["hiked the Dolomites with Jo"]
    assert mem.recall("hiking", "u", tier="long") == []


def test_the_erasure_feed_reads_past_a_cursor(make_memory):
    """`erasures` (each backend's `audit_after`): one user's erasures after a cursor that
    counts that user's entries only; a cursor beyond the log reads it from the start."""
    mem = make_memory()
    kept, gone = mem.remember_many(["I like tea", "My PIN is 4471"], "u")
    mem.remember("Other user's note", "v")
    start = mem.erasures("u")
    assert start.erasures == [] and start.cursor == 1
    mem.delete(gone.id, "u")
    mem.forget("v", everything=True)
    feed = mem.erasures("u", after=start.cursor)
    assert [(e.position, e.action, e.engram_ids) for e in feed.erasures] == [
        (2, "delete", [gone.id])
    ]
    assert feed.cursor == 2 and mem.erasures("u", after=2).erasures == []
    assert mem.erasures("u", after=10**6) == mem.erasures("u")
    assert mem.erasures("nobody") == mem.erasures("nobody", after=5)
    assert mem.erasures("nobody").cursor == 0 and kept.id not in str(feed)
