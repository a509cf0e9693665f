"""The web console: a person's view of the memory (timeline, search with explanations, edits,
audit trail, the model's consolidated facts), served by `engram-agents serve` at /console."""

from engram_agents.server.console.routes import install

__all__ = ["install"]
