"""Which N-grams of a fact become keys: rare words, pairs that tell facts apart, canonical
forms; and key dropout, which trains each written key to carry the answer alone."""

import pytest
import torch

from engram_agents import EngramLM, Fact, TrainConfig
from engram_agents.model.compression import canonical_form
from engram_kernels import hit_mask

FACTS = [
    Fact(question="When is my dentist appointment?", answer="Tuesday at 3 pm"),
    Fact(question="What is the wifi password at the cabin?", answer="blue-otter-42"),
]
QUICK = TrainConfig(epochs=2, batch_size=8, min_steps=1)


def written_keys(lm: EngramLM, text: str) -> torch.Tensor:
    """Which of `text`'s lookups (position x column) hit rows the memorized facts wrote."""
    ids, mask = lm.encoder.encode(text)
    rows, fps = lm.model.hash(lm.model.key_ids(torch.tensor([ids]), torch.tensor([mask])))
    return hit_mask(lm.model.engram["1"].tags, rows, fps)


def test_unigram_keys_are_only_rare_words_specific_to_one_fact(tiny_dirs, tmp_path, small_config):
    lm = EngramLM.from_pretrained(
        tiny_dirs["llama"],
        config=small_config.model_copy(update={"orders": (1, 2)}),
        storage_dir=tmp_path,
    )
    facts = [
        Fact(question="When is my dentist appointment?", answer="Monday"),
        Fact(question="Which dentist did Maria recommend?", answer="Dr. Okafor"),
        Fact(question="What is the name of my sister?", answer="Priyanka"),
    ]
    lm.memorize(facts, "ana", train_config=QUICK)
    k = lm.config.heads_per_order

    def unigram_written(word: str) -> bool:  # " word", as in a question
        return bool(written_keys(lm, f"Tell me about my {word}")[..., :k].any())

    assert unigram_written("appointment") and unigram_written("sister")  # rare, one fact each
    assert not unigram_written("dentist")  # in two facts: it tells them apart no better
    assert not unigram_written("name")  # a frequent token
    assert not unigram_written("holiday")  # never memorized


def test_pair_keys_match_reworded_questions_and_skip_pairs_several_facts_share(tiny_lm):
    facts = [
        Fact(question="Which test framework does the Sierra project use?", answer="pytest"),
        Fact(question="Which test framework does the Atlas project use?", answer="Jest"),
        Fact(question="Where are the migrations in the Sierra repo?", answer="db/migrations"),
        Fact(question="Who owns the Sierra deploy pipeline?", answer="Ingrid"),
    ]
    tiny_lm.memorize(facts, "ana", train_config=QUICK)
    first_pair_col = len(tiny_lm.config.hashed_orders) * tiny_lm.config.heads_per_order

    def pair_hit(question: str) -> bool:
        return bool(written_keys(tiny_lm, question)[..., first_pair_col:].any())

    assert pair_hit("What do we run tests with in Sierra?")  # {test, Sierra}: distance 1, was 2
    assert pair_hit("In Sierra, which folder holds the migrations?")  # distance 3, reversed
    assert pair_hit("Who is responsible for deploying Sierra?")  # deploying = deploy
    assert not pair_hit("Which framework runs the tests?")  # {test, framework}: two facts
    assert not pair_hit("Is Sierra a mountain range?")  # never memorized


@pytest.mark.parametrize(
    "words, same",
    [
        ((" deploy", " deploying", " deployed", " deploys"), True),
        ((" Dentist", "dentists", " DENTIST"), True),
        ((" test", " testing", " tests"), True),
        ((" speed", " sped"), False),  # a stem keeps four letters: "speed" is not "spe" + "ed"
        ((" class", " clas"), False),  # "-ss" is not a plural
    ],
)
def test_canonical_form_folds_case_plurals_and_verb_endings(words, same):
    forms = {canonical_form(w) for w in words}
    assert (len(forms) == 1) is same and "" not in forms


def test_stop_words_and_punctuation_are_not_keyed():
    assert canonical_form(" the") == canonical_form("?") == canonical_form(" What") == ""


def test_ngrams_several_facts_share_are_not_written(tiny_lm):
    facts = [
        Fact(question="What is the wifi password at the cabin?", answer="blue-otter-42"),
        Fact(question="What is the wifi password at the office?", answer="red-fox-7"),
    ]
    tiny_lm.memorize(facts, "ana", train_config=QUICK)
    bigrams = slice(tiny_lm.config.heads_per_order, 2 * tiny_lm.config.heads_per_order)

    def bigram_written(text: str) -> bool:
        return bool(written_keys(tiny_lm, text)[..., bigrams].any())

    assert not bigram_written("wifi password")  # in both facts: it would be trained two ways
    assert bigram_written("password cabin") and bigram_written("password office")


def test_key_dropout_can_keep_one_written_key_alone(tiny_lm):
    from engram_agents.model.memorize import KeyDropout

    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    model = tiny_lm.model
    texts = [FACTS[0].question, FACTS[1].question, "Tell me a joke about penguins"]
    encoded = [tiny_lm.encoder.encode(t) for t in texts]
    width = max(len(ids) for ids, _ in encoded)
    ids = torch.tensor([i + [0] * (width - len(i)) for i, _ in encoded])
    mask = torch.tensor([m + [0] * (width - len(m)) for _, m in encoded])
    rows, fps = model.hash(model.key_ids(ids, mask))
    tags = model.engram["1"].tags

    def kept_keys(f):  # (position, slot) lookups whose rows the facts wrote
        return hit_mask(tags, rows, f).unflatten(-1, (f.shape[-1], -1)).any(-1)

    assert torch.equal(KeyDropout(tags, rate=0.0, single=0.0)(rows, fps), fps)
    torch.manual_seed(0)
    alone = KeyDropout(tags, rate=0.0, single=1.0)(rows, fps)
    before, after = kept_keys(fps).flatten(1), kept_keys(alone).flatten(1)
    assert before[0].sum() > 1 and before[1].sum() > 1 and not before[2].any()
    assert after.sum(1).tolist() == [1, 1, 0]  # one written key each; nothing to keep in a joke
    assert (after <= before).all()  # the kept key is one the fact wrote
    assert torch.equal(alone[2], fps[2])  # a row with no written key is left as it was
    assert not (alone[:2] != 0).flatten(1).sum(1).gt(1).any()  # everything else silenced
