"""engram-agents: long-term memory for LangChain and LlamaIndex agents.

`EngramMemory`, `EngramLM` and the model's training types are imported on first use: the model
side must import without the episodic store's dependencies (the GPU check runs where only torch
and transformers are), and a command that needs neither side starts without torch.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from engram_agents.errors import AdapterError, EngramError, InvalidInputError, ModelNotFoundError
from engram_agents.model.config import EngramConfig
from engram_agents.store.errors import ConsentError

if TYPE_CHECKING:
    from engram_agents.lm import EngramLM
    from engram_agents.memory import EngramMemory
    from engram_agents.model.facts import Fact
    from engram_agents.model.memorize import ForgetReport, MemorizeReport, TrainConfig

__version__ = "0.1.0"

# Imported on first use: torch and nltk take seconds to import, which a caller that needs
# neither (the errors, the config, a script that manages key files) should not pay.
_LAZY = {
    "EngramLM": "engram_agents.lm",
    "EngramMemory": "engram_agents.memory",
    "Fact": "engram_agents.model.facts",
    "ForgetReport": "engram_agents.model.memorize",
    "MemorizeReport": "engram_agents.model.memorize",
    "TrainConfig": "engram_agents.model.memorize",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
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
