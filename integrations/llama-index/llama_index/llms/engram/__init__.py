"""The local Engram language model for LlamaIndex."""

from llama_index.llms.engram.base import Engram

__all__ = ["Engram"]
