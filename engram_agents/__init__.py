"""engram-agents: long-term memory for LangChain and LlamaIndex agents.

`EngramMemory` is imported on first use: the model side (`EngramLM`) must import without the
episodic store's dependencies (the GPU check runs where only torch and transformers are).
"""

from engram_agents.errors import AdapterError, EngramError, InvalidInputError, ModelNotFoundError
from engram_agents.lm import EngramLM
from engram_agents.model.config import EngramConfig
from engram_agents.model.facts import Fact
from engram_agents.model.memorize import ForgetReport, MemorizeReport, TrainConfig
from engram_agents.store.errors import ConsentError

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "EngramMemory":
        from engram_agents.memory import EngramMemory

        return EngramMemory
    raise AttributeError(f"module 'engram_agents' has no attribute {name!r}")


__all__ = [
    "AdapterError",
    "ConsentError",
    "EngramConfig",
    "EngramError",
    "EngramLM",
    "EngramMemory",
    "Fact",
    "ForgetReport",
    "InvalidInputError",
    "MemorizeReport",
    "ModelNotFoundError",
    "TrainConfig",
]
