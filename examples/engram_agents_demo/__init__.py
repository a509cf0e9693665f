"""The multi-day demo agents and the benchmarks that drive both integrations: a distribution of
its own (`engram-agents-demo`), so the core never depends on LangChain, LlamaIndex or BM25.

Its commands, `engram-agents demo ...` and `engram-agents bench ...`, reach the core's command
line through the `engram_agents.commands` entry-point group."""
