"""One id rule for the store and the model: a user one accepts, the other accepts too."""

import pytest

from engram_agents import EngramMemory, InvalidInputError
from engram_agents.store.encoders import HashingEncoder

LONGEST = "u" * 256


@pytest.fixture
def memory(tmp_path):
    with EngramMemory(tmp_path / "m.db", encoder=HashingEncoder(dim=64)) as m:
        yield m


@pytest.mark.parametrize("bad", ["", "   ", LONGEST + "u", "a\x00b", 7])
def test_store_and_model_refuse_the_same_ids(memory, tiny_lm, bad):
    with pytest.raises(InvalidInputError, match="user_id"):
        memory.remember("I like tea", user_id=bad)
    with pytest.raises(InvalidInputError, match="user_id"):
        tiny_lm.load_user(bad)
    assert memory.list(LONGEST) == []  # nothing was written


def test_store_and_model_accept_the_longest_id(memory, tiny_lm):
    assert memory.remember("I like tea", user_id=LONGEST)
    tiny_lm.load_user(LONGEST)
    assert tiny_lm.user_id == LONGEST
