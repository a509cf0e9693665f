"""Every public verb has an async twin running the same code."""

from __future__ import annotations

import asyncio

from engram_agents.memory import EngramMemory
from engram_agents.verbs import VERBS


def test_every_verb_has_a_twin():
    assert all(callable(getattr(EngramMemory, f"a{v}")) for v in VERBS)


async def test_async_twins_roundtrip(memory):
    e = await memory.aremember("Async fact about sourdough starters", "u", session_id="s")
    batch = await memory.aremember_many(["rye bread notes", "croissant lamination"], "u")
    hits = await memory.arecall("sourdough", "u", k=2)
    assert hits[0].engram.id == e.id
    assert (await memory.aget(e.id, "u")).text == e.text
    await memory.afeedback(e.id, "u", useful=True)
    updated = await memory.aupdate(e.id, "u", text="Sourdough starter needs feeding daily")
    assert updated.text.startswith("Sourdough")
    assert len(await memory.alist("u")) == 3
    assert (await memory.aexport("u"))["user_id"] == "u"
    assert await memory.adelete(batch[0].id, "u") == 1
    await memory.aconsolidate("u")
    assert await memory.aforget("u", session_id="s") == 1
    assert await memory.averify_audit() > 0


async def test_concurrent_async_writes_all_land(memory):
    topics = ["kayaks", "violins", "tax forms", "tulips", "chess", "ramen", "gliders", "quilts"]
    await asyncio.gather(*(memory.aremember(f"notes about {t}", "u") for t in topics))
    assert sorted(e.text for e in memory.list("u")) == sorted(f"notes about {t}" for t in topics)
