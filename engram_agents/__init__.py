"""engram-agents: long-term memory for LangChain and LlamaIndex agents."""

__version__ = "0.1.0"
