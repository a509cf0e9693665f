"""observe_reply: the memories a reply used gain usefulness, the weights learn what set them
apart, the query's own words are not use, and bad input is refused in our own error type."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from engram_agents.errors import InvalidInputError
from engram_agents.store import fusion
from engram_agents.store.reply_use import use_scores, used_mask

FACTS = [
    "Caroline adopted a greyhound called Pixel from the shelter in Leeds",
    "Caroline's pottery class meets on Thursdays at the community centre",
    "Melanie is training for the Berlin marathon in September",
    "Caroline painted a sunset over the lake for her grandmother",
]


def _margin(memory, user: str, used: str, unused: list[str], weights) -> float:
    """How far the used engram's fused score sits above the unused ones' mean."""
    feats = memory.store._last_features
    w = fusion.as_vector(weights)
    return float(feats.get((user, used)) @ w - np.mean([feats.get((user, i)) @ w for i in unused]))


def test_reply_quoting_one_memory_raises_only_its_usefulness(memory):
    memory.remember_many(FACTS, "u")
    hits = memory.recall("what did Caroline do?", "u", k=4)
    pixel = next(h.engram.id for h in hits if "Pixel" in h.engram.text)
    others = [h.engram.id for h in hits if h.engram.id != pixel]
    before = memory.store.weights("u")
    margin_before = _margin(memory, "u", pixel, others, before)

    use = memory.observe_reply(
        "She adopted Pixel, a greyhound, from a shelter in Leeds.",
        "u",
        hits,
        query="what did Caroline do?",
    )

    assert use.used == [pixel]
    assert use.scores[pixel] > max(use.scores[i] for i in others)
    assert memory.get(pixel, "u").stats.usefulness > 0
    assert all(memory.get(i, "u").stats.usefulness == 0 for i in others)
    # the learned weights widen the used memory's lead over the unused ones
    assert use.weights != before
    assert memory.store.weights("u") == use.weights
    assert _margin(memory, "u", pixel, others, use.weights) > margin_before
    # worth less than one explicit judgement
    assert memory.get(pixel, "u").stats.usefulness < 1.0


def test_query_words_in_the_reply_are_not_use(memory):
    memory.remember_many(FACTS, "u")
    hits = memory.recall("Caroline pottery", "u", k=4)
    use = memory.observe_reply(
        "Caroline pottery, as you asked.", "u", hits, query="Caroline pottery"
    )
    assert use.used == []
    assert all(memory.get(h.engram.id, "u").stats.usefulness == 0 for h in hits)


def test_ids_work_like_hits_and_deleted_ones_are_skipped(memory):
    stored = memory.remember_many(FACTS, "u")
    memory.recall("marathon", "u", k=4)
    memory.delete(stored[3].id, "u")
    use = asyncio.run(
        memory.aobserve_reply("Good luck in Berlin this September!", "u", [e.id for e in stored])
    )
    assert stored[3].id not in use.scores
    assert use.used == [stored[2].id]


def test_bad_input_is_refused_and_changes_nothing(memory):
    stored = memory.remember("Caroline adopted Pixel", "u")
    with pytest.raises(InvalidInputError, match="reply"):
        memory.observe_reply("   ", "u", [stored.id])
    with pytest.raises(InvalidInputError, match=r"recalled\[0\]"):
        memory.observe_reply("Pixel", "u", [42])  # type: ignore[list-item]
    for not_a_list in (5, stored.id):  # one id is a str, not a list of ids
        with pytest.raises(InvalidInputError, match="recalled must be a list"):
            memory.observe_reply("Pixel", "u", not_a_list)  # type: ignore[arg-type]
    assert memory.get(stored.id, "u").stats.usefulness == 0
    assert memory.observe_reply("Pixel", "u", []).used == []


def test_the_cut_adapts_to_the_scores():
    assert used_mask(np.array([0.8, 0.1, 0.0])).tolist() == [True, False, False]
    assert used_mask(np.array([0.6, 0.5, 0.05])).tolist() == [True, True, False]
    assert not used_mask(np.zeros(3)).any()
    # a tag every recalled engram holds tells little about which one was used; a rare one more
    scores = use_scores({"kw:cat"}, [{"kw:cat", "name:pixel"}, {"kw:cat"}], set())
    assert scores[1] == 1.0 and 0 < scores[0] < 0.5
    # the query's own tags are no one's use
    assert use_scores({"kw:cat"}, [{"kw:cat", "name:pixel"}], {"kw:cat"}).tolist() == [0.0]
