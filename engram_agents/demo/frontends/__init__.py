"""Agent frameworks the demo drives. Each is imported only when chosen: the demo is the one
part of engram_agents that uses the integration packages (the core never imports them)."""

import importlib

from engram_agents.demo.runner import Frontend

FRONTENDS = {
    "langchain": "engram_agents.demo.frontends.with_langchain:LangChainFrontend",
    "llama-index": "engram_agents.demo.frontends.with_llama_index:LlamaIndexFrontend",
}


def frontend(name: str, **kwargs) -> Frontend:
    module, cls = FRONTENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**kwargs)
