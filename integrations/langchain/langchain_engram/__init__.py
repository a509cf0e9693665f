"""LangChain integration for engram-agents."""
