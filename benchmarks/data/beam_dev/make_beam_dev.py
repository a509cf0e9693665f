"""Writes the BEAM-format development set: four long user–assistant chats (requests with the
user's facts inside them, code, long assistant answers) and their probing questions, under
`chats/dev/<n>/`. The chats' scripts are in `dev_scripts.json` (a user's text, or an assistant
answer's lead, steps and code, which `answer` pads; questions name their evidence as [batch,
message]). Deterministic; rerun after editing the scripts:

    python benchmarks/data/beam_dev/make_beam_dev.py

Written by hand for this project (no BEAM text); a development set, not a tuning target."""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent

# Generic material an assistant pads long answers with; shared across chats on purpose, so
# long answers look alike and share vocabulary with every question.
ADVICE = [
    "Start small and verify each step before moving on; it is much easier to find a mistake "
    "when only one thing changed since the last time everything worked.",
    "Keep a short log of what you tried and what happened. Two weeks from now you will not "
    "remember why a setting has the value it has, and the log answers that in seconds.",
    "If something feels slow, measure before optimizing: the bottleneck is rarely where it "
    "seems to be, and a quick profile saves hours of guessing.",
    "Write down the assumptions you are making. Most plans fail at an assumption nobody "
    "noticed, not at the step everybody worried about.",
    "Automate the boring, repeated parts first. A script you run every day pays for itself "
    "long before the clever parts do.",
    "Review the plan once a week and adjust it; a plan that never changes is usually a plan "
    "nobody is following any more.",
    "Ask for feedback early. A rough version shown on day two beats a polished one that "
    "turns out to solve the wrong problem on day twenty.",
    "Keep backups of anything you cannot recreate, and test that you can actually restore "
    "from them; an untested backup is a hope, not a backup.",
]


def answer(lead: str, steps: list[str], code: str | None, rng: random.Random) -> str:
    """A long assistant reply: a lead, numbered steps, optional code, padded advice."""
    parts = [lead, ""]
    parts += [f"{i}. {step}" for i, step in enumerate(steps, 1)]
    if code:
        parts += ["", "Here is a version you can start from:", "", "```", code.strip(), "```"]
    parts += ["", "A few general points that help here:", ""]
    parts += [f"- {tip}" for tip in rng.sample(ADVICE, 7)]
    parts += ["", "Let me know how it goes and we can refine it from there."]
    return "\n".join(parts)


# Requests without personal facts, as users send between the ones that matter; each chat gets
# a share of them (distractors that ask, like most real chat turns do).
FILLER = [
    ("What's the difference between a list and a tuple in Python?", "code"),
    ("Can you explain what a database index is and when it helps?", "code"),
    ("How do I undo the last git commit but keep the changes?", "code"),
    ("Explain async and await like I'm five.", "code"),
    ("What is a reasonable way to structure a small Python project?", "code"),
    ("Why does my regular expression match too much text?", "code"),
    ("How do environment variables work in a web app?", "code"),
    ("What are good habits for writing unit tests?", "code"),
    ("Can you explain how HTTP caching headers work?", "code"),
    ("What does a 502 Bad Gateway error usually mean?", "code"),
    ("How do I read a CSV file that has a weird encoding?", "code"),
    ("What's the best way to learn SQL joins?", "code"),
    ("How does compound interest work over ten years?", "money"),
    ("What is an index fund?", "money"),
    ("How do credit scores work in general?", "money"),
    ("Is it better to pay off debt or invest first?", "money"),
    ("What does inflation do to savings?", "money"),
    ("How do people usually split bills with roommates?", "money"),
    ("How long should a warm-up be before exercise?", "body"),
    ("What are the benefits of stretching after a workout?", "body"),
    ("How much water should an adult drink per day?", "body"),
    ("What's a simple core workout I can do at home?", "body"),
    ("How does sleep affect recovery?", "body"),
    ("Is it bad to exercise when you have a cold?", "body"),
    ("How do I write a clear email asking for feedback?", "work"),
    ("Can you suggest a structure for a short presentation?", "work"),
    ("What's the Pomodoro technique?", "work"),
    ("How do I say no to extra work politely?", "work"),
    ("What makes a good meeting agenda?", "work"),
    ("How do I summarize a long paper quickly?", "work"),
    ("Give me a quick recipe for a weeknight pasta.", "life"),
    ("How do I keep basil alive indoors?", "life"),
    ("What should I pack for a weekend city trip?", "life"),
    ("How do I get rid of condensation on windows?", "life"),
    ("Can you recommend a way to learn a new language faster?", "life"),
    ("What's a good way to start journaling?", "life"),
]

FILLER_CODE = {
    "code": "def example(values):\n    seen = set()\n    for value in values:\n"
    "        if value in seen:\n            continue\n        seen.add(value)\n"
    "        yield value",
}


def filler_answer(question: str, kind: str, rng: random.Random) -> str:
    steps = [
        f"First, be clear about what you want out of this: {question.rstrip('?.').lower()}.",
        "Then try the simplest approach that could work and check the result.",
        "Compare with one alternative so you know why you chose the first.",
        "Write down what you learned so the next time takes minutes.",
    ]
    return answer("Good question, here is an overview.", steps, FILLER_CODE.get(kind), rng)


def chats(rng: random.Random, scripts_file: Path) -> list[dict]:
    """Each chat: batches of (role, text) messages, and questions whose evidence names
    messages by (batch, message); assistant answers are written out in script order."""

    def message(turn: dict) -> tuple[str, str]:
        if "user" in turn:
            return ("user", turn["user"])
        spec = turn["assistant"]
        return ("assistant", answer(spec["lead"], spec["steps"], spec["code"], rng))

    scripts = json.loads(scripts_file.read_text())
    return [
        {
            "batches": [[message(turn) for turn in batch] for batch in chat["batches"]],
            "questions": {
                kind: [(q["question"], [tuple(e) for e in q["evidence"]]) for q in items]
                for kind, items in chat["questions"].items()
            },
        }
        for chat in scripts
    ]


def write(root: Path, scripts_file: Path = HERE / "dev_scripts.json", size: str = "dev") -> None:
    """The chats of `scripts_file` under `root/chats/<size>/<n>/`."""
    rng = random.Random(20)
    written = []
    for chat in chats(rng, scripts_file):
        for messages in chat["batches"]:
            # fillers after the batch's own exchanges, so message labels stay as written
            for question, kind in rng.sample(FILLER, 12):
                messages += [("user", question), ("assistant", filler_answer(question, kind, rng))]
        written.append(chat)
    write_layout(root, size, written)


def write_layout(root: Path, size: str, chats: list[dict]) -> None:
    """BEAM's layout for chats of (role, text) batches whose questions name their evidence as
    (batch, message) and may give an answer: `chats/<size>/<n>/chat.json` (pairs of messages
    with ids and a time anchor per batch) and `probing_questions/probing_questions.json`
    (evidence as message ids: a list, or a dict of lists when a question has more than one)."""
    for n, chat in enumerate(chats, 1):
        folder = root / "chats" / size / str(n)
        (folder / "probing_questions").mkdir(parents=True, exist_ok=True)
        ids: dict[tuple[int, int], int] = {}
        batches, next_id = [], 0
        for b, messages in enumerate(chat["batches"]):
            turns = []
            for m in range(0, len(messages), 2):
                pair = []
                for j, (role, content) in enumerate(messages[m : m + 2]):
                    ids[(b, m + j)] = next_id
                    pair.append(
                        {
                            "role": role,
                            "id": next_id,
                            "content": content,
                            "time_anchor": f"April-{b * 9 + 1:02d}-2024",
                        }
                    )
                    next_id += 1
                turns.append(pair)
            batches.append({"batch_number": b + 1, "turns": turns})
        probing = {
            kind: [
                {
                    "question": q,
                    "answer": answer[0] if answer else "",
                    "source_chat_ids": {
                        "first": [ids[e] for e in evidence[:1]],
                        "rest": [ids[e] for e in evidence[1:]],
                    }
                    if len(evidence) > 1
                    else [ids[e] for e in evidence],
                }
                for q, evidence, *answer in items
            ]
            for kind, items in chat["questions"].items()
        }
        (folder / "chat.json").write_text(json.dumps(batches, indent=1, ensure_ascii=False))
        (folder / "probing_questions" / "probing_questions.json").write_text(
            json.dumps(probing, indent=1, ensure_ascii=False)
        )


if __name__ == "__main__":
    write(HERE)
