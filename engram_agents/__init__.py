"""engram-agents: long-term memory for LangChain and LlamaIndex agents."""

from engram_agents.errors import AdapterError, EngramError, InvalidInputError, ModelNotFoundError
from engram_agents.lm import EngramLM
from engram_agents.memory import EngramMemory
from engram_agents.model.config import EngramConfig
from engram_agents.model.facts import Fact
from engram_agents.model.memorize import MemorizeReport, TrainConfig
from engram_agents.store.errors import ConsentError

__version__ = "0.1.0"

__all__ = [
    "AdapterError",
    "ConsentError",
    "EngramConfig",
    "EngramError",
    "EngramLM",
    "EngramMemory",
    "Fact",
    "InvalidInputError",
    "MemorizeReport",
    "ModelNotFoundError",
    "TrainConfig",
]
