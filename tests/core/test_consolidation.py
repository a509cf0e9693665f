from engram_agents import EngramMemory, TrainConfig
from engram_agents.consolidation import consolidate_into_model
from engram_agents.store.encoders import HashingEncoder

QUICK = TrainConfig(epochs=2, batch_size=8, min_steps=1)


def test_model_memory_follows_the_store(tiny_lm, tmp_path):
    memory = EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(dim=256))
    stored = memory.remember(
        [
            {"role": "user", "content": "My dentist appointment is on Tuesday at 3 pm."},
            {"role": "user", "content": "The wifi password at the cabin is blue-otter-42."},
            {"role": "user", "content": "What time is it?"},  # asks only: not memorized
            {"role": "user", "content": "Could you book me a haircut for Saturday?"},  # a plan
        ],
        "ana",
    )
    sync = consolidate_into_model(memory, tiny_lm, "ana", QUICK)
    assert (sync.memorized, sync.forgotten) == (3, 0)
    assert sorted(f.statement for f in tiny_lm.facts("ana")) == [
        "Could you book me a haircut for Saturday?",
        "My dentist appointment is on Tuesday at 3 pm.",
        "The wifi password at the cabin is blue-otter-42.",
    ]
    again = consolidate_into_model(memory, tiny_lm, "ana", QUICK)
    assert (again.memorized, again.forgotten, again.training) == (0, 0, None)

    memory.delete(stored[0].id, "ana")  # the model consolidated from it forgets at once
    assert sorted(f.statement for f in tiny_lm.facts("ana")) == [
        "Could you book me a haircut for Saturday?",
        "The wifi password at the cabin is blue-otter-42.",
    ]
    after = consolidate_into_model(memory, tiny_lm, "ana", QUICK)
    assert (after.memorized, after.forgotten) == (0, 0)
