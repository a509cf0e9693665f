"""The key mask: Engram memory is addressed by what the user said and nothing else."""

import pytest
import torch

from engram_agents import Fact, InvalidInputError, TrainConfig

FACT = Fact(question="When is my dentist appointment?", answer="Tuesday at 3 pm")
QUICK = TrainConfig(epochs=2, batch_size=8, min_steps=1)


def keyed_text(lm, messages) -> str:
    ids, mask = lm.encoder.encode(messages)
    assert len(ids) == len(mask)
    return lm.tokenizer.decode([i for i, k in zip(ids, mask, strict=True) if k])


def test_only_user_content_is_keyed(tiny_lm):
    chat = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Book the dentist."},
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "Thanks!"},
    ]
    assert keyed_text(tiny_lm, chat) == "Book the dentist.Thanks!"


def test_unkeyed_parts_are_read_but_not_keyed(tiny_lm):
    block = "Memories:\n- The dentist is on Tuesday.\n\n"
    chat = [{"role": "user", "content": [{"text": block, "keyed": False}, "When is it?"]}]
    ids, _ = tiny_lm.encoder.encode(chat)
    assert block in tiny_lm.tokenizer.decode(ids)
    assert keyed_text(tiny_lm, chat) == "When is it?"
    as_dict = [{"role": "user", "content": [{"text": block, "keyed": False}, {"text": "When?"}]}]
    assert keyed_text(tiny_lm, as_dict) == "When?"


def test_recalled_parts_are_unkeyed_and_can_be_left_out(tiny_lm):
    block = "Memories:\n- The dentist is on Tuesday.\n\n"
    chat = [
        {"role": "system", "content": ["You are terse.", {"text": "\n" + block, "recalled": True}]},
        {"role": "user", "content": [{"text": block, "recalled": True, "keyed": True}, "When?"]},
    ]
    ids, _ = tiny_lm.encoder.encode(chat)
    assert tiny_lm.tokenizer.decode(ids).count(block) == 2
    assert keyed_text(tiny_lm, chat) == "When?"  # recalled text is never keyed
    without, mask = tiny_lm.encoder.encode(chat, recalled=False)
    plain = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "When?"}]
    assert (without, mask) == tiny_lm.encoder.encode(plain)


def test_memorized_statements_in_an_unkeyed_part_leave_the_logits_alone(tiny_lm):
    """The reason for unkeyed parts: retrieved memories quoted in the user's turn must not
    fire the tables a second time."""
    tiny_lm.memorize([FACT], "ana", train_config=QUICK)

    def logits(content, user):
        ids, mask = tiny_lm.encoder.encode([{"role": "user", "content": content}])
        tiny_lm.load_user(user)
        with torch.no_grad():
            return tiny_lm.model(torch.tensor([ids]), torch.tensor([mask])).logits

    unkeyed = [{"text": FACT.question + "\n\n", "keyed": False}, "Hello"]
    assert torch.equal(logits(unkeyed, "ana"), logits(unkeyed, None))
    keyed = [FACT.question + "\n\n", "Hello"]
    assert (logits(keyed, "ana") - logits(keyed, None)).abs().max() > 1e-3


@pytest.mark.parametrize(
    "content, problem",
    [
        ([], "content must be a string or a list of parts"),
        (42, "content must be a string or a list of parts"),
        ([{"keyed": False}], "content part"),
        ([{"text": 3}], "content part"),
        ([{"text": "a", "keyed": "no"}], "content part"),
        ([{"text": "a", "recalled": 1}], "content part"),
        (["ok", None], "content part"),
    ],
)
def test_bad_content_is_named(tiny_lm, content, problem):
    with pytest.raises(InvalidInputError, match=problem):
        tiny_lm.chat([{"role": "user", "content": content}])
