"""Agent frameworks the demo drives, each imported only when chosen (one run needs only its
own framework's packages)."""

import importlib

from engram_agents_demo.demo.runner import Frontend

FRONTENDS = {
    "langchain": "engram_agents_demo.demo.frontends.with_langchain:LangChainFrontend",
    "llama-index": "engram_agents_demo.demo.frontends.with_llama_index:LlamaIndexFrontend",
}


def frontend(name: str, **kwargs) -> Frontend:
    module, cls = FRONTENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**kwargs)
