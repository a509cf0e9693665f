"""engram_agents.chat's own pieces: message parts and their marks, the sampling whitelist and
the shared model loader."""

import pytest

from engram_agents import InvalidInputError
from engram_agents.chat import (
    RECALLED,
    SAMPLING_ARGS,
    UNKEYED,
    MessagePart,
    load_lm,
    message_content,
    sampling_params,
)


class MarkedBlock:
    """A block class without free metadata, marked the way LlamaIndex's RecalledTextBlock is."""

    engram_marks = RECALLED


def test_marks_are_read_from_extras_or_the_block_class():
    assert MessagePart.of_block("m", {"type": "text", "extras": RECALLED}).recalled
    assert MessagePart.of_block("m", MarkedBlock()).recalled
    unkeyed = MessagePart.of_block("m", {"extras": UNKEYED})
    assert not unkeyed.keyed and not unkeyed.recalled
    plain = MessagePart.of_block("m", {"type": "text"})
    assert plain.keyed and not plain.marked
    assert not MessagePart(text="m", recalled=True).keyed  # recalled text never keys


def test_content_is_plain_text_unless_a_part_is_marked():
    said = [MessagePart(text="a\n"), MessagePart(text="b")]
    assert message_content(said) == "a\nb"
    assert message_content(said, text="as read") == "as read"
    recalled = [MessagePart(text="memo\n", recalled=True), MessagePart(text="b")]
    assert message_content(recalled) == [
        {"text": "memo\n", "keyed": False, "recalled": True},
        {"text": "b", "keyed": True, "recalled": False},
    ]


def test_sampling_params_fill_defaults_and_name_unknown_arguments():
    defaults = dict.fromkeys(SAMPLING_ARGS, 0)
    assert sampling_params({"temperature": 0.7}, defaults, "X") == {**defaults, "temperature": 0.7}
    with pytest.raises(InvalidInputError, match=r"X got unknown arguments \['temprature'\]"):
        sampling_params({"temprature": 0.7}, defaults, "X")


def test_load_lm_shares_one_model_per_folder_config_and_storage(tiny_dirs, small_config, tmp_path):
    first = load_lm(tiny_dirs["llama"], small_config, tmp_path / "a")
    assert load_lm(str(tiny_dirs["llama"]), small_config, str(tmp_path / "a")) is first
    assert load_lm(tiny_dirs["llama"], small_config, tmp_path / "b") is not first
