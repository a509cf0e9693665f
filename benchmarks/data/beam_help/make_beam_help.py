"""Writes a second hand-written BEAM-format set, `chats/help/<n>/`: four user–assistant chats
(a clinic's reminder app, a cycling trip, a thesis, household money) where the user's facts
sit inside requests, the assistant answers at length (code, steps, background it repeats), and
some questions are about what the assistant said. Written for the project without BEAM text and
without looking at the store's signals, so the long-chat evidence is not only `beam_dev`.
Deterministic; rerun after editing:

    python benchmarks/data/beam_help/make_beam_help.py"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "beam_dev"))
from make_beam_dev import write_layout  # noqa: E402

# The chats' scripts (`help_scripts.json`): per chat, background its assistant keeps coming back
# to (its long answers look alike within a chat, as real ones do, not across chats), cautions
# shared by all, requests without personal facts (each gets a long answer), and the chats'
# turns ({"user": text} or an assistant answer's spec) and questions.
SCRIPTS = json.loads((HERE / "help_scripts.json").read_text())
BACKGROUND, CAUTIONS, FILLER = SCRIPTS["background"], SCRIPTS["cautions"], SCRIPTS["filler"]


def answer(spec: dict, chat: str, rng: random.Random) -> str:
    """A long reply: a lead, numbered steps, optional code, then background for the chat."""
    parts = [spec["lead"], ""]
    parts += [f"{i}. {step}" for i, step in enumerate(spec.get("steps", []), 1)]
    if spec.get("code"):
        parts += ["", "```" + spec.get("lang", "python"), spec["code"].strip(), "```"]
    parts += ["", "Some background that matters here:", ""]
    parts += rng.sample(BACKGROUND[chat], 5)
    parts += ["", "Things to watch for:", ""]
    parts += [f"- {caution}" for caution in rng.sample(CAUTIONS, 3)]
    parts += ["", spec.get("close", "Tell me what you decide and we can take the next step.")]
    return "\n".join(parts)


def filler_answer(question: str, chat: str, rng: random.Random) -> str:
    subject = question.rstrip("?").removeprefix("How do I ").removeprefix("What is ").lower()
    spec = {
        "lead": f"Good question. In short, about {subject}:",
        "steps": [
            "Start from what you need it for, and look at the simplest option first.",
            "Try it on a small example and check that the result is what you expected.",
            "Write a note of the choice and the reason, so you do not redo the research.",
        ],
    }
    return answer(spec, chat, rng)


def chats(rng: random.Random) -> list[dict]:
    """(role, text) batches with fillers after each batch's own exchanges."""
    out = []
    for chat in SCRIPTS["chats"]:
        batches = []
        for batch in chat["batches"]:
            messages = [
                ("user", turn["user"])
                if "user" in turn
                else ("assistant", answer(turn, chat["key"], rng))
                for turn in batch
            ]
            for question in rng.sample(FILLER[chat["key"]], 6):
                messages += [
                    ("user", question),
                    ("assistant", filler_answer(question, chat["key"], rng)),
                ]
            batches.append(messages)
        questions = {
            kind: [(q, [tuple(e) for e in evidence], a) for q, evidence, a in items]
            for kind, items in chat["questions"].items()
        }
        out.append({"batches": batches, "questions": questions})
    return out


if __name__ == "__main__":
    write_layout(HERE, "help", chats(random.Random(27)))
