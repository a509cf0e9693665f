"""llama-index-engram installs as namespace packages next to llama-index-core."""

from pathlib import Path

import llama_index.core

import llama_index.llms.engram
import llama_index.memory.engram
import llama_index.tools.engram

SOURCE = Path(llama_index.memory.engram.__file__).parents[2]


def test_namespace_packages_share_llama_index_with_core():
    for namespace in ("", "llms", "memory", "tools"):
        assert not (SOURCE / namespace / "__init__.py").exists(), f"llama_index/{namespace}"
    assert Path(llama_index.core.__file__).parents[1] != SOURCE  # core lives elsewhere
    assert llama_index.llms.engram.Engram.class_name() == "Engram"
    assert llama_index.tools.engram.__all__ == ["EngramMemoryToolSpec"]
    assert llama_index.memory.engram.__all__ == [
        "EngramMemory",
        "EngramMemoryBlock",
        "RecalledTextBlock",
    ]
