"""Engram memory tools for LlamaIndex agents."""

from llama_index.tools.engram.base import EngramMemoryToolSpec

__all__ = ["EngramMemoryToolSpec"]
