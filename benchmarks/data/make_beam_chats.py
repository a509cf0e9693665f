"""Assemble BEAM-format chats written by hand: each chat folder's `chat.json` and
`probing_questions/probing_questions.json` from its source in `src/` (beam_blind's chat 1 and
beam_blind2's chats).

A session file `src/session_NN.txt` starts with `## SESSION <n> <Month-DD-YYYY>` and holds
messages opened by `@@user <label> [Month-DD-YYYY]` or `@@assistant [<label>]`; `src/questions.json`
maps question types to items whose `source` names evidence by those labels, so the text can be
edited without renumbering. Deterministic: same text in, same JSON out.

    python benchmarks/data/make_beam_chats.py benchmarks/data/beam_blind/chats/100K/1 \
        benchmarks/data/beam_blind2/chats/100K/*
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HEADER = re.compile(r"^## SESSION (\d+) (\S+)\s*$")
DATE = r"\S+-\d\d-\d{4}"  # Month-DD-YYYY
OPENER = re.compile(rf"^@@(user|assistant)(?: (\S+))?(?: ({DATE}))?\s*$")


def parse(path: Path) -> tuple[int, list[dict]]:
    """One session file -> (batch number, messages with role, label, lines and date)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    head = HEADER.match(lines[0])
    if not head:
        raise ValueError(f"{path}: first line must be '## SESSION <n> <date>'")
    number, date = int(head.group(1)), head.group(2)
    messages: list[dict] = []
    for line in lines[1:]:
        opener = OPENER.match(line)
        if opener:
            role, label, when = opener.groups()
            if label and re.fullmatch(DATE, label):  # a date alone lands in the label group
                label, when = None, label
            date = when or date
            messages.append({"role": role, "label": label, "lines": [], "date": date})
        elif messages:
            messages[-1]["lines"].append(line)
        elif line.strip():
            raise ValueError(f"{path}: text before the first message: {line[:40]!r}")
    return number, messages


def build(chat: Path) -> tuple[list[dict], dict[str, int]]:
    """The chat's batches (a turn is a user message and the replies after it) and the id of
    every labelled message."""
    batches, labels, next_id = [], {}, 0
    for path in sorted((chat / "src").glob("session_*.txt")):
        number, messages = parse(path)
        turns: list[list[dict]] = []
        for message in messages:
            if message["role"] == "user" or not turns:
                turns.append([])
            content = "\n".join(message["lines"]).strip()
            if not content:
                raise ValueError(f"{path}: empty message {message['label']}")
            if message["label"]:
                if message["label"] in labels:
                    raise ValueError(f"{path}: label {message['label']} used twice")
                labels[message["label"]] = next_id
            turns[-1].append(
                {
                    "role": message["role"],
                    "id": next_id,
                    "content": content,
                    "time_anchor": message["date"],
                }
            )
            next_id += 1
        batches.append({"batch_number": number, "turns": turns})
    return batches, labels


def resolve(items: dict[str, list[dict]], labels: dict[str, int]) -> dict[str, list[dict]]:
    return {
        kind: [
            {
                "question": q["question"],
                "answer": q["answer"],
                "source_chat_ids": sorted(labels[label] for label in q["source"]),
            }
            for q in questions
        ]
        for kind, questions in items.items()
    }


def main(chats: list[Path]) -> None:
    for chat in chats:
        batches, labels = build(chat)
        (chat / "chat.json").write_text(json.dumps(batches, indent=1, ensure_ascii=False) + "\n")
        questions = json.loads((chat / "src" / "questions.json").read_text(encoding="utf-8"))
        (chat / "probing_questions").mkdir(exist_ok=True)
        target = chat / "probing_questions" / "probing_questions.json"
        target.write_text(
            json.dumps(resolve(questions, labels), indent=1, ensure_ascii=False) + "\n"
        )
        count = sum(len(t) for b in batches for t in b["turns"])
        chars = sum(len(m["content"]) for b in batches for t in b["turns"] for m in t)
        print(json.dumps({"chat": chat.name, "messages": count, "characters": chars}))


if __name__ == "__main__":
    main([Path(arg) for arg in sys.argv[1:]])
