"""The content signal: a turn that names a person or a topic and says nothing else matches many
questions and answers none, so how much a memory says (its sketch tags, up to
`StoreConfig.content_tags`) is one of the fused signals, with a weight learned like the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.sketch import HOLDS

# Two friends texting: the fact about Ollie's revision sits in one substantive turn, among short
# reactions that name him and say nothing.
TURNS = [
    ("Fiona", "Ollie has his mocks in January and he's barely opened a book."),
    ("Nadia", "Hahaha. That's so Ollie."),
    ("Fiona", "Ollie!"),
    ("Nadia", "Poor Ollie, and poor you."),
    ("Nadia", "Try a deal with him: every hour of revision for the mocks earns an hour of "
     "drumming in the garage, and the band practice on Saturday stays if he keeps it up."),
    ("Fiona", "Ha, Ollie would love that."),
]  # fmt: skip
QUESTION = "What deal did Nadia suggest to get Ollie revising?"


def _memory(path: Path, encoder, weight: float | None = None) -> EngramMemory:
    config = StoreConfig() if weight is None else StoreConfig(weights=FusionWeights(content=weight))
    memory = EngramMemory(path, encoder=encoder, config=config)
    memory.remember_many(
        [{"text": text, "metadata": {"speaker": who}, "session_id": "s1"} for who, text in TURNS],
        "fiona",
    )
    return memory


def test_content_is_the_tag_count_up_to_the_cap(tmp_path: Path, hashing):
    weight, cap = FusionWeights().content, StoreConfig().content_tags
    with _memory(tmp_path / "m.db", hashing) as memory:
        hits = memory.recall(QUESTION, "fiona", k=len(TURNS))
        for hit in hits:  # no role marks here: every sketch tag but the `holds:` marks counts
            said = min(len(set(hit.engram.sketch) - set(HOLDS.values())), cap) / cap
            assert hit.parts["content"] == pytest.approx(weight * said)
        deal = next(h for h in hits if "deal" in h.engram.text)
        assert deal.parts["content"] == pytest.approx(weight)  # says enough: the full weight
        ollie = next(h for h in hits if h.engram.text == "Ollie!")
        assert ollie.parts["content"] == pytest.approx(weight * 2 / cap)  # kw:olli, name:fiona


def test_the_turn_that_says_something_rises_above_the_reactions(tmp_path: Path, hashing):
    def rank(memory: EngramMemory) -> int:
        hits = memory.recall(QUESTION, "fiona", k=len(TURNS))
        return next(n for n, h in enumerate(hits) if "deal" in h.engram.text)

    with (
        _memory(tmp_path / "a.db", hashing) as default,
        _memory(tmp_path / "b.db", hashing, weight=0) as off,
    ):
        assert rank(off) == 4  # three reactions that name Ollie come first
        assert rank(default) == 2


def test_a_weight_of_zero_leaves_every_other_signal_as_it_was(tmp_path: Path, hashing):
    order_dependent = {"content", "redundancy", "dense_floor"}
    with (
        _memory(tmp_path / "a.db", hashing) as default,
        _memory(tmp_path / "b.db", hashing, weight=0) as off,
    ):
        a = {h.engram.text: h.parts for h in default.recall("the mocks", "fiona", k=len(TURNS))}
        b = {h.engram.text: h.parts for h in off.recall("the mocks", "fiona", k=len(TURNS))}
        assert a.keys() == b.keys()
        for text, parts in a.items():
            assert b[text]["content"] == 0
            assert {k: v for k, v in parts.items() if k not in order_dependent} == pytest.approx(
                {k: v for k, v in b[text].items() if k not in order_dependent}
            )


def test_weights_learned_before_the_signal_existed_take_its_configured_weight(
    tmp_path: Path, hashing
):
    with _memory(tmp_path / "m.db", hashing, weight=0.1) as memory:
        store = memory.store
        learned = FusionWeights().model_dump(exclude={"content"}) | {"tags": 0.7}
        setting = {("fiona", "fusion_weights"): json.dumps(learned)}  # as an older version wrote
        store._commit("fiona", store.backend.revision("fiona"), [], [], [], setting)
        weights = store.weights("fiona")
        assert weights.tags == 0.7 and weights.content == 0.1
