"""The local Engram language model for LlamaIndex."""
