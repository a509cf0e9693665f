"""Assemble chat.json and probing_questions.json of blind BEAM-format chat 1 from hand-written text.

The sessions live in src/session_NN.txt; each starts with `## SESSION <n> <Month-DD-YYYY>` and
holds messages opened by `@@user <label> [Month-DD-YYYY]` or `@@assistant [<label>]`. Labels let the
questions (src/questions.json) name their evidence without hard-coding message ids, so the text can
be edited without renumbering. Deterministic: same text in, same JSON out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = re.compile(r"^## SESSION (\d+) (\S+)\s*$")
OPENER = re.compile(r"^@@(user|assistant)(?: (\S+))?(?: (\S+-\d\d-\d{4}))?\s*$")


def parse(path: Path) -> tuple[int, str, list[dict]]:
    """One session file -> (batch number, date, messages with role, label, content, date)."""
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
            if label and re.fullmatch(r"\S+-\d\d-\d{4}", label):
                label, when = None, label
            date = when or date
            messages.append({"role": role, "label": label, "lines": [], "date": date})
        elif messages:
            messages[-1]["lines"].append(line)
        elif line.strip():
            raise ValueError(f"{path}: text before the first message: {line[:40]!r}")
    return number, date, messages


def build() -> tuple[list[dict], dict[str, int]]:
    batches, labels, next_id = [], {}, 0
    for path in sorted((HERE / "src").glob("session_*.txt")):
        number, _, messages = parse(path)
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
    out: dict[str, list[dict]] = {}
    for kind, questions in items.items():
        out[kind] = []
        for q in questions:
            ids = sorted(labels[label] for label in q["source"])
            out[kind].append(
                {"question": q["question"], "answer": q["answer"], "source_chat_ids": ids}
            )
    return out


def main() -> None:
    batches, labels = build()
    (HERE / "chat.json").write_text(json.dumps(batches, indent=1, ensure_ascii=False) + "\n")
    questions_path = HERE / "src" / "questions.json"
    if questions_path.exists():
        questions = json.loads(questions_path.read_text(encoding="utf-8"))
        probing = resolve(questions, labels)
        target = HERE / "probing_questions" / "probing_questions.json"
        target.write_text(json.dumps(probing, indent=1, ensure_ascii=False) + "\n")
    count = sum(len(t) for b in batches for t in b["turns"])
    chars = sum(len(m["content"]) for b in batches for t in b["turns"] for m in t)
    print(json.dumps({"sessions": len(batches), "messages": count, "characters": chars}))


if __name__ == "__main__":
    main()
