"""Engram tables in host memory (`EngramModel.place_tables("host")`): inference reads staged
rows through `engram_kernels.HostTable`; on CPU that is a plain gather, so the logits must be
identical to the device tables'. Writing the tables needs them on the device."""

import pytest
import torch

from engram_agents import Fact, InvalidInputError, TrainConfig
from engram_kernels import hit_mask

FACTS = [
    Fact(question="When is my dentist appointment?", answer="Tuesday at 3 pm"),
    Fact(question="What is the wifi password at the cabin?", answer="blue-otter-42"),
]
QUICK = TrainConfig(epochs=2, batch_size=8, min_steps=1)
PROMPT = "Quick question: when is my dentist appointment, and the cabin wifi password?"


@pytest.fixture
def memorized(tiny_lm):
    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    return tiny_lm


def test_host_tables_give_identical_logits_and_replies(memorized):
    lm = memorized
    ids, _ = lm.encoder.encode(PROMPT)
    x = torch.tensor([ids, ids[::-1]])
    rows, fps = lm.model.hash(lm.model.key_ids(x))
    assert hit_mask(lm.model.engram["1"].tags, rows, fps).any()  # memory is really read
    with torch.no_grad():
        on_device = lm.model(x).logits
        reply = lm.chat(PROMPT, max_new_tokens=8)
        lm.model.place_tables("host")
        assert lm.model.tables_on == "host"
        assert all(layer.host is not None for layer in lm.model.engram.values())
        on_host = lm.model(x).logits
        host_reply = lm.chat(PROMPT, max_new_tokens=8)
        lm.model.place_tables("device")
        back = lm.model(x).logits
    assert torch.equal(on_host, on_device)
    assert host_reply == reply
    assert torch.equal(back, on_device)
    with lm.model.disabled():
        assert not torch.equal(lm.model(x).logits, on_device)  # Engram changed these logits


def test_writing_host_tables_fails_clearly_and_changes_nothing(memorized):
    lm = memorized
    lm.model.place_tables("host")
    before = {k: v.clone() for k, v in lm.model.engram.state_dict().items()}
    more = Fact(question="Where did I park the car?", answer="level 3, row F")
    with pytest.raises(InvalidInputError, match="place_tables"):
        lm.memorize([more], "ana", train_config=QUICK)
    with pytest.raises(InvalidInputError, match="place_tables"):
        lm.load_user("bob")
    with pytest.raises(InvalidInputError, match="place_tables"):
        lm.forget(FACTS[0], "ana")
    after = lm.model.engram.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert lm.facts("ana") == FACTS
    lm.model.place_tables("device")
    lm.memorize([more], "ana", train_config=QUICK)
    assert lm.facts("ana") == [*FACTS, more]


def test_an_unknown_place_is_refused(tiny_lm):
    with pytest.raises(InvalidInputError, match="'device' or 'host'"):
        tiny_lm.model.place_tables("disk")
