"""Assemble blind chat 2 (BEAM layout) from its hand-written source in `src/`.

The source files `part_*.txt` hold the sessions in order:
    === <batch number> | <Month-DD-YYYY>     starts a session
    >>> user @label / >>> assistant @label   starts a message (label optional, unique)
Message ids are given in order from 0. `questions.json` names evidence by label (`@label`);
this script turns the labels into message ids and writes `chats/100K/2/chat.json` and its
`probing_questions/probing_questions.json`. Deterministic: same source, same output."""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).parent
SRC = HERE / "src"
OUT = HERE


def parse() -> tuple[list[dict], dict[str, int]]:
    batches: list[dict] = []
    labels: dict[str, int] = {}
    message: dict | None = None
    lines: list[str] = []
    anchor = ""

    def close() -> None:
        nonlocal message, lines
        if message is not None:
            message["content"] = "\n".join(lines).strip()
            if not message["content"]:
                raise ValueError(f"empty message {message['id']}")
            batches[-1]["turns"][-1].append(message)
        message, lines = None, []

    next_id = 0
    for part in sorted(SRC.glob("part_*.txt")):
        for line in part.read_text("utf-8").splitlines():
            if m := re.fullmatch(r"=== (\d+) \| (\w+-\d\d-\d{4})\s*", line):
                close()
                anchor = m.group(2)
                batches.append({"batch_number": int(m.group(1)), "turns": []})
            elif m := re.fullmatch(r">>> (user|assistant)(?: @(\S+))?\s*", line):
                close()
                role, label = m.group(1), m.group(2)
                if role == "user":
                    batches[-1]["turns"].append([])
                message = {"role": role, "id": next_id, "content": "", "time_anchor": anchor}
                if label:
                    if label in labels:
                        raise ValueError(f"duplicate label {label}")
                    labels[label] = next_id
                next_id += 1
            else:
                lines.append(line)
        close()
    return batches, labels


def main() -> None:
    batches, labels = parse()
    questions = json.loads((SRC / "questions.json").read_text("utf-8"))
    for items in questions.values():
        for item in items:
            item["source_chat_ids"] = [labels[s.lstrip("@")] for s in item["source_chat_ids"]]
    (OUT / "probing_questions").mkdir(parents=True, exist_ok=True)
    (OUT / "chat.json").write_text(json.dumps(batches, indent=1, ensure_ascii=False) + "\n")
    (OUT / "probing_questions" / "probing_questions.json").write_text(
        json.dumps(questions, indent=1, ensure_ascii=False) + "\n"
    )


if __name__ == "__main__":
    main()
