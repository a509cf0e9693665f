"""Recall and remember read a user's settings (fusion weights, consent) once per revision of the
user: a change made through another handle (or process) moves the revision, so it is seen at
the next call, never hidden behind the value read before."""

from __future__ import annotations

import pytest

from engram_agents.store.errors import ConsentError

FACTS = ["Caroline is a painter", "Melanie runs marathons", "Caroline adopted a dog named Rex"]


def test_weights_changed_by_another_handle_are_used_at_the_next_recall(make_memory):
    mine, other = make_memory(), make_memory()
    mine.remember_many(FACTS, "u")
    mine.recall("Caroline painter", "u", k=3)  # reads the weights at this revision
    before = mine.store.weights("u", mine.store.backend.revision("u"))
    hits = other.recall("Caroline painter", "u", k=3)
    learned = other.feedback(hits[0].engram.id, "u", useful=True)  # learns from its own recall
    assert learned != before
    assert mine.store.weights("u", mine.store.backend.revision("u")) == learned
    assert mine.store.weights("u") == learned


def test_consent_withdrawn_by_another_handle_stops_the_next_remember(make_memory):
    mine, other = make_memory(), make_memory()
    mine.remember("Caroline is a painter", "u")  # reads consent at this revision
    other.set_consent("u", False)
    with pytest.raises(ConsentError):
        mine.remember("Melanie runs marathons", "u")
    assert mine.store.consent("u", mine.store.backend.revision("u")) is False
    other.set_consent("u", True)
    assert mine.remember("Melanie runs marathons", "u").text == "Melanie runs marathons"
