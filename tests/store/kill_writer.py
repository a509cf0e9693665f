"""The writer that tests/store/test_sigkill_loop.py kills: a seeded random mix of remember,
remember_many, reinforce, update, feedback, delete and consolidate on one SQLite store, forever.

Before each verb it appends a "do" line to the acknowledgement file and after it returns a
"done" line with what the verb acknowledged (ids, texts), each with one `os.write`, so a SIGKILL
leaves every acknowledged change on record and at most one verb in flight. It lives in its own
module (no pytest) so the forkserver can import it, and engram_agents with it, once for all
kill rounds."""

from __future__ import annotations

import json
import os
import random

from engram_agents.memory import EngramMemory
from engram_agents.store.config import StoreConfig
from engram_agents.store.encoders import HashingEncoder

USER = "u"
# consolidation may merge only identical vectors (texts here never repeat), so an engram can
# disappear only through an acknowledged delete
CONFIG = StoreConfig(merge_similarity=1.0, merge_keyword_overlap=1.0)
WORDS = (
    "amber birch cobalt dune ember fjord garnet heron indigo juniper kelp lichen maple nutmeg "
    "onyx pepper quartz raven saffron thistle umber violet willow xenon yarrow zinnia"
).split()


def open_memory(path: str) -> EngramMemory:
    return EngramMemory(path, encoder=HashingEncoder(dim=256), config=CONFIG)


def write_forever(path: str, seed: int, acks_path: str) -> None:
    rng = random.Random(seed)
    fd = os.open(acks_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def record(*fields: object) -> None:
        os.write(fd, (json.dumps(fields) + "\n").encode())

    counter = iter(range(10**9))

    def new_text() -> str:  # unique: the seed and a counter spelt in words, no digits to redact
        n = next(counter)
        tag = "".join(WORDS[int(d)] for d in f"{seed}{n:04d}")
        return " ".join(rng.sample(WORDS, 5)) + f" note {tag}"

    mem = open_memory(path)
    engrams = {e.id: e for e in mem.list(USER, include_superseded=True)}
    record("ready")
    while True:
        ids = sorted(engrams)
        verb = rng.choices(
            [
                "remember",
                "remember_many",
                "reinforce",
                "update",
                "feedback",
                "delete",
                "consolidate",
            ],
            [30, 15, 10, 20, 10, 10, 5],
        )[0]
        if verb in ("reinforce", "update", "feedback", "delete") and not ids:
            verb = "remember"
        if verb == "remember":
            record("do", verb, [])
            e = mem.remember(new_text(), USER, redact=False)
            engrams[e.id] = e
            record("done", verb, [[e.id, e.text]])
        elif verb == "remember_many":
            record("do", verb, [])
            stored = mem.remember_many(
                [new_text() for _ in range(rng.randint(2, 4))], USER, redact=False
            )
            engrams.update((e.id, e) for e in stored)
            record("done", verb, [[e.id, e.text] for e in stored])
        elif verb == "reinforce":  # say an active engram's text again
            active = [i for i in ids if engrams[i].superseded_by is None] or ids
            said = engrams[rng.choice(active)]
            record("do", verb, [said.id])
            e = mem.remember(said.text, USER, redact=False)
            engrams[e.id] = e
            record("done", verb, [[e.id, e.text]])
        elif verb == "update":
            target = rng.choice(ids)
            record("do", verb, [target])
            e = mem.update(target, USER, text=new_text())
            engrams[e.id] = e
            record("done", verb, [[e.id, e.text]])
        elif verb == "feedback":
            chosen = rng.sample(ids, min(len(ids), rng.randint(1, 2)))
            record("do", verb, chosen)
            mem.feedback(chosen, USER, useful=rng.random() < 0.7)
            record("done", verb, chosen)
        elif verb == "delete":
            chosen = rng.sample(ids, min(len(ids), rng.randint(1, 2)))
            record("do", verb, chosen)
            mem.delete(chosen, USER)
            for i in chosen:
                del engrams[i]
            record("done", verb, chosen)
        else:
            record("do", verb, [])
            report = mem.consolidate(USER)
            gone = {s for src in report.merged.values() for s in src} | set(report.evicted)
            gone -= set(report.merged)
            engrams = {e.id: e for e in mem.list(USER, include_superseded=True)}
            record("done", verb, sorted(gone))
