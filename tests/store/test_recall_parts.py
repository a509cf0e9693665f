"""A recall hit carries its fused score's parts (each signal times its weight), so the console
and API readers can see why it ranked where it did; the parts add up to the score."""

import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store.config import FusionWeights
from engram_agents.store.encoders import HashingEncoder


def test_a_hits_parts_add_up_to_its_score_under_learned_weights(tmp_path):
    with EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(256)) as memory:
        memory.remember("My dog is called Pixel", "ana")
        memory.remember("I flew to Lisbon last May", "ana")
        hits = memory.recall("what is my dog called", "ana")
        memory.feedback([hits[-1].engram.id], "ana", useful=True)  # re-learns the weights
        dog, lisbon = memory.recall("what is my dog called", "ana")
        for hit in (dog, lisbon):
            assert set(FusionWeights.model_fields) <= set(hit.parts)
            assert sum(hit.parts.values()) == pytest.approx(hit.score, abs=1e-4)
        assert dog.engram.text == "My dog is called Pixel"
        assert dog.parts["tags"] > 0 and lisbon.parts["tags"] == 0  # only one shares "dog"
