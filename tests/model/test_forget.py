"""Forgetting a fact leaves no row trained on it: rows it shares with a remaining fact are
reset and that fact retrained, so the remaining fact is still recalled."""

import torch

from engram_agents import Fact, TrainConfig
from engram_agents.model.memorize import _batch as batch_of
from engram_agents.model.memorize import answer_loss, build_examples, hit_rows

A = Fact(question="When is my dentist appointment?", answer="Tuesday at 3 pm")
B = Fact(question="Who is my dentist appointment with?", answer="Doctor Okafor")
TRAIN = TrainConfig(epochs=8, batch_size=8, min_steps=40)


def _rows(lm, fact: Fact) -> torch.Tensor:
    return hit_rows(lm.model, build_examples(lm.encoder, [fact]))


def _loss(lm, fact: Fact) -> float:
    examples = build_examples(lm.encoder, [fact])
    with torch.no_grad():
        return answer_loss(lm.model, *batch_of(examples, 0, lm.device)).item()


def test_forgetting_a_fact_resets_the_rows_it_shares_and_retrains_the_rest(tiny_lm):
    lm = tiny_lm
    shared_tables = {n: layer.table.detach().clone() for n, layer in lm.model.engram.items()}
    lm.memorize([A], "ana", train_config=TRAIN)
    lm.memorize([B], "ana", train_config=TRAIN)  # B trains the rows of the keys it shares with A
    rows_a = _rows(lm, A)
    shared = rows_a[torch.isin(rows_a, _rows(lm, B))]
    assert len(shared) > 0  # the two facts do share rows (the test can fail)
    trained = {n: layer.table.detach()[rows_a].clone() for n, layer in lm.model.engram.items()}
    lm.unload_user()
    base_loss_b = _loss(lm, B)
    lm.load_user("ana")
    recalled_loss_a = _loss(lm, A)

    report = lm.forget_many([A], "ana", train_config=TRAIN)

    assert (report.facts, report.retrained) == (1, 1)
    assert report.rows_reset >= len(rows_a) and report.training is not None
    for name, layer in lm.model.engram.items():
        now, before = layer.table.detach()[rows_a], trained[name]
        base = shared_tables[name][rows_a]
        changed = (now != before).any(-1)
        assert (changed | (now == base).all(-1)).all()  # no row keeps its value trained with A
        assert changed[torch.isin(rows_a, shared)].all()  # shared rows hold B's retraining
    # On a tiny random model a few steps move the answer loss a little, but in the right way:
    # B's tables still lower its answer's loss, A's answer lost what its rows gave it.
    assert _loss(lm, B) < base_loss_b - 0.25
    assert _loss(lm, A) > recalled_loss_a + 0.15
    assert [f.question for f in lm.facts("ana")] == [B.question]
    delta = lm.memory_path("ana").read_bytes()
    assert B.answer.encode() in delta  # the file holds the facts in clear (the check can fail)
    assert A.answer.encode() not in delta and A.question.encode() not in delta


def test_forgetting_a_fact_that_shares_no_row_retrains_nothing(tiny_lm):
    tiny_lm.memorize(
        [A, Fact(question="What is the cabin wifi password?", answer="blue-otter-42")],
        "ana",
        train_config=TrainConfig(epochs=2, batch_size=8, min_steps=1),
    )
    report = tiny_lm.forget_many([A, "never stored"], "ana")
    assert (report.facts, report.retrained, report.training) == (1, 0, None)
    assert report.rows_reset > 0
    assert tiny_lm.forget_many([A], "ana").facts == 0
