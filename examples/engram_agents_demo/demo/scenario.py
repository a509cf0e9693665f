"""Multi-day scenarios: what the user says each day, and the probe questions asked later.

Each day is one session that starts with an empty context window. The probes of day d are asked
at the start of day d, each in a fresh session, so they can only be answered from memory of the
days before it.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, model_validator

from engram_agents.errors import InvalidInputError

BUILTIN = ("calendar", "coding")


class Turn(BaseModel):
    id: str
    text: str = Field(min_length=1)


class Day(BaseModel):
    day: int = Field(ge=1)
    date: str
    turns: list[Turn] = Field(default_factory=list)


class Probe(BaseModel):
    id: str
    day: int = Field(ge=1)
    question: str = Field(min_length=1)
    answers: list[str] = Field(min_length=1)
    evidence: list[str] = Field(default_factory=list)
    stale: list[str] = Field(default_factory=list)
    kind: str = "single"


class Scenario(BaseModel):
    name: str
    title: str = ""
    user_id: str = "user"
    assistant: str = "You are a helpful assistant."
    days: list[Day] = Field(min_length=1)
    probes: list[Probe] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        numbers = [d.day for d in self.days]
        if numbers != sorted(set(numbers)):
            raise ValueError(f"days must be numbered in increasing order, got {numbers}")
        turn_day = {t.id: d.day for d in self.days for t in d.turns}
        if len(turn_day) != sum(len(d.turns) for d in self.days):
            raise ValueError("turn ids must be unique")
        if len({p.id for p in self.probes}) != len(self.probes):
            raise ValueError("probe ids must be unique")
        for p in self.probes:
            if p.day not in numbers:
                raise ValueError(f"probe {p.id} is asked on day {p.day}, which has no entry")
            for e in p.evidence:
                if e not in turn_day:
                    raise ValueError(f"probe {p.id} cites unknown turn {e!r}")
                if turn_day[e] >= p.day:
                    raise ValueError(
                        f"probe {p.id} (day {p.day}) cites turn {e} from day {turn_day[e]}: "
                        "probes are asked at the start of their day"
                    )
        return self

    def probes_on(self, day: int) -> list[Probe]:
        return [p for p in self.probes if p.day == day]

    def turn_text(self) -> dict[str, str]:
        return {t.id: t.text for d in self.days for t in d.turns}


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name ("calendar", "coding") or a scenario JSON file."""
    if str(name_or_path) in BUILTIN:
        text = (
            resources.files("engram_agents_demo.demo")
            .joinpath(f"scenarios/{name_or_path}.json")
            .read_text("utf-8")
        )
        source = f"built-in scenario {name_or_path!r}"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise InvalidInputError(
                f"no scenario {str(name_or_path)!r}: give one of {', '.join(BUILTIN)} "
                "or the path of a scenario JSON file"
            )
        text, source = path.read_text("utf-8"), str(path)
    try:
        return Scenario.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as e:
        raise InvalidInputError(f"invalid scenario in {source}: {e}") from e
