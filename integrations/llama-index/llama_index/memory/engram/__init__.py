"""Engram long-term memory for LlamaIndex."""

from llama_index.memory.engram.base import EngramMemory
from llama_index.memory.engram.block import EngramMemoryBlock
from llama_index.memory.engram.recalled import RecalledTextBlock

__all__ = ["EngramMemory", "EngramMemoryBlock", "RecalledTextBlock"]
