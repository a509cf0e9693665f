"""Session end: fold the episodic store's active memories into the model's weights.

The store decides what is current (duplicates merged, overridden facts superseded); this makes
a user's in-model memory (EngramLM.memorize) follow it: statements that became active are
memorized, and statements that were superseded or deleted are forgotten, so the model stops
recalling an appointment that has moved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engram_agents.lm import EngramLM
from engram_agents.memory import EngramMemory
from engram_agents.model.facts import Fact
from engram_agents.model.memorize import MemorizeReport, TrainConfig
from engram_agents.store.records import ConsolidationReport, Engram
from engram_agents.store.sketch import is_asking


@dataclass
class WeightSync:
    store: ConsolidationReport
    memorized: int
    forgotten: int
    training: MemorizeReport | None


def consolidate_into_model(
    memory: EngramMemory,
    lm: EngramLM,
    user_id: str,
    train_config: TrainConfig | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    *,
    model_user_id: str | None = None,
) -> WeightSync:
    """Consolidate the user's store, then memorize the statements that are new and forget
    those that were dropped (a turn that ends by asking states no fact and is not memorized; a
    request such as "could you book me a haircut on Saturday?" states a plan and is).
    `model_user_id` names the model's user whose tables hold the facts (default: `user_id`).
    From now on the memory also erases from the model without waiting for the next run
    (`attach_model`): in process at once, over a server (`EngramMemory.remote`) before each of
    the client's calls and within its poll interval (`engram_agents.model_follower`)."""
    model_user = user_id if model_user_id is None else model_user_id
    memory.attach_model(lm, {user_id: model_user})
    store_report = memory.consolidate(user_id)
    wanted = statements(memory.list(user_id))
    held = {f.identity(): f for f in lm.facts(model_user)}
    dropped = [f for key, f in held.items() if key not in wanted]
    if dropped:
        lm.forget_many(dropped, model_user, train_config, progress)
    new = [f for key, f in wanted.items() if key not in held]
    training = lm.memorize(new, model_user, train_config, progress) if new else None
    return WeightSync(store_report, len(new), len(dropped), training)


def statements(engrams: list[Engram]) -> dict[str, Fact]:
    """The facts the engrams are memorized as, by identity (what `forget` matches on)."""
    return {f.identity(): f for f in map(_fact, engrams) if f is not None}


def _fact(engram: Engram) -> Fact | None:
    """The fact an engram is memorized as (None for a turn that only asks)."""
    text = engram.content.strip()
    return Fact(statement=text) if text and not is_asking(text) else None


def forget_in_model(
    lm: EngramLM, model_users: dict[str, str], user_id: str, engrams: list[Engram]
) -> dict[str, int]:
    """Remove the facts of erased engrams from the tables and delta file of the user's model
    user (`model_users`, default the same id) at once (the erase hook
    `EngramMemory.attach_model` registers); returns what it did, for the audit log (empty when
    none of them was memorized)."""
    facts = [f for f in map(_fact, engrams) if f is not None]
    report = lm.forget_many(facts, model_users.get(user_id, user_id)) if facts else None
    if report is None or not report.facts:
        return {}
    return {"facts": report.facts, "rows_reset": report.rows_reset, "retrained": report.retrained}
