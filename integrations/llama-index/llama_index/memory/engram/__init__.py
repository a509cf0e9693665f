"""Engram long-term memory for LlamaIndex."""

from llama_index.memory.engram.base import EngramMemory
from llama_index.memory.engram.block import EngramMemoryBlock

__all__ = ["EngramMemory", "EngramMemoryBlock"]
