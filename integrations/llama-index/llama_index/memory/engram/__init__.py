"""Engram long-term memory for LlamaIndex."""
