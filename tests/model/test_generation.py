"""Decoding toward recalled memories, and the user's tables beside them (MemoryMix)."""

import pytest
import torch

from engram_agents import Fact, InvalidInputError, TrainConfig
from engram_agents.model.generation import MemoryMix, Prompt

BLOCK = "Memories:\n- The dentist is on Tuesday at 3 pm.\n\n"
FACT = Fact(question="When is the dentist?", answer="Tuesday at 3 pm")
QUICK = TrainConfig(epochs=2, batch_size=8, min_steps=1)
CHAT = [
    {"role": "system", "content": "You are a calendar assistant."},
    {"role": "user", "content": [{"text": BLOCK, "recalled": True}, "When is the dentist?"]},
]


NONE = Prompt([], [])


def test_mix_logits_match_the_formula_on_random_inputs():
    g = torch.Generator().manual_seed(0)
    for m, t, plausibility in [(0.5, 0.0, 0.1), (1.0, 0.5, 0.5), (2.0, 1.0, 1e-3)]:
        full, bare, tables = torch.randn(3, 50, generator=g) * 3
        a, b, c = full.log_softmax(-1), bare.log_softmax(-1), tables.log_softmax(-1)
        got = MemoryMix(NONE, None, m, t, plausibility).logits(full, bare)
        keep = a.exp() >= plausibility * a.exp().max()
        want = torch.where(keep, (1 + m) * a - m * b, float("-inf"))
        torch.testing.assert_close(got, want)
        assert keep[got.argmax()]
        got = MemoryMix(NONE, NONE, m, t, plausibility).logits(full, bare, tables)
        keep |= c.exp() >= plausibility * c.exp().max()
        want = torch.where(keep, (1 + m) * a - m * b + t * (c - b), float("-inf"))
        torch.testing.assert_close(got, want)


def naive_mixed_reply(lm, m: float, t: float, n: int) -> str:
    """Greedy decoding that reruns every prompt in full at each step (no caches): the full
    prompt and the bare one (unkeyed beside the tables), and the tables' (keyed) one."""
    ids, mask = lm.encoder.encode(CHAT)
    bare_ids, bare_mask = lm.encoder.encode(CHAT, recalled=False)
    with_tables = t > 0 and lm.user_id is not None
    if with_tables:
        mask, plain = [0] * len(mask), [0] * len(bare_mask)
    prompts = [(ids, mask), (bare_ids, plain if with_tables else bare_mask)]
    if with_tables:
        prompts.append((bare_ids, bare_mask))
    rule = MemoryMix(NONE, NONE if with_tables else None, m, t)
    new: list[int] = []
    stops = lm.encoder.stop_token_ids()
    with torch.no_grad():
        for _ in range(n):
            logits = [
                lm.model(torch.tensor([i + new]), torch.tensor([k + [0] * len(new)])).logits[0, -1]
                for i, k in prompts
            ]
            tok = int(rule.logits(*logits).argmax())
            if tok in stops:
                break
            new.append(tok)
    return lm.tokenizer.decode(new, skip_special_tokens=True)


@pytest.mark.parametrize("m, t", [(0.5, 0.0), (3.0, 0.0), (0.5, 0.5), (0.0, 2.0)])
def test_cached_mixed_decoding_matches_the_naive_loop(tiny_lm, m, t):
    tiny_lm.memorize(FACT, "ana", train_config=QUICK)  # the user's tables, loaded
    reply = tiny_lm.chat(CHAT, max_new_tokens=12, memory_weight=m, tables_weight=t)
    assert reply == naive_mixed_reply(tiny_lm, m, t, 12)


def test_the_tables_weight_needs_a_user_and_recalled_parts(tiny_lm):
    plain = tiny_lm.chat(CHAT, max_new_tokens=12)
    assert tiny_lm.chat(CHAT, max_new_tokens=12, tables_weight=2.0) == plain  # shared tables
    tiny_lm.memorize(FACT, "ana", train_config=QUICK)
    question = [{"role": "user", "content": "When is the dentist?"}]
    assert tiny_lm.chat(question, max_new_tokens=12, tables_weight=2.0) == tiny_lm.chat(
        question, max_new_tokens=12
    )
    assert tiny_lm.chat(CHAT, max_new_tokens=12, tables_weight=2.0) != tiny_lm.chat(
        CHAT, max_new_tokens=12
    )


def test_a_strong_memory_weight_changes_the_reply_and_zero_does_not(tiny_lm):
    plain = tiny_lm.chat(CHAT, max_new_tokens=12)
    assert tiny_lm.chat(CHAT, max_new_tokens=12, memory_weight=0.0) == plain
    assert tiny_lm.chat(CHAT, max_new_tokens=12, memory_weight=3.0) != plain


def test_without_recalled_parts_the_memory_weight_changes_nothing(tiny_lm):
    chat = [{"role": "user", "content": "When is the dentist?"}]
    assert tiny_lm.chat(chat, max_new_tokens=12, memory_weight=3.0) == tiny_lm.chat(
        chat, max_new_tokens=12
    )


@pytest.mark.parametrize(
    "weights, problem",
    [
        ({"memory_weight": -0.5}, "memory_weight"),
        ({"memory_weight": float("nan")}, "memory_weight"),
        ({"tables_weight": -1.0}, "tables_weight"),
    ],
)
def test_a_bad_weight_is_named(tiny_lm, weights, problem):
    with pytest.raises(InvalidInputError, match=problem):
        tiny_lm.chat(CHAT, max_new_tokens=4, **weights)
