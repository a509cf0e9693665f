"""Assemble blind BEAM-format chat 3 from the hand-written text in src/.

src/part*.txt hold the sessions: a line `### SESSION Month-DD-YYYY` opens a session, a line
`>>> U label` or `>>> A label` opens a message (label optional, used by the questions).
src/questions.json maps question type -> items whose "sources" are message labels; this
script turns labels into message ids. Deterministic: same text in, same JSON out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).parent
ROLES = {"U": "user", "A": "assistant"}


def parse() -> tuple[list[dict], dict[str, int]]:
    batches: list[dict] = []
    labels: dict[str, int] = {}
    current: dict | None = None
    anchor = ""
    next_id = 0
    for part in sorted((HERE / "src").glob("part*.txt")):
        for line in part.read_text(encoding="utf-8").splitlines():
            if line.startswith("### SESSION "):
                anchor = line.split()[2]
                batches.append({"batch_number": len(batches) + 1, "turns": []})
                continue
            head = re.match(r"^>>> ([UA])(?: (\S+))?\s*$", line)
            if head:
                role = ROLES[head.group(1)]
                current = {"role": role, "id": next_id, "content": "", "time_anchor": anchor}
                if head.group(2):
                    if head.group(2) in labels:
                        raise ValueError(f"duplicate label {head.group(2)}")
                    labels[head.group(2)] = next_id
                next_id += 1
                turns = batches[-1]["turns"]
                if role == "user" or not turns:
                    turns.append([])
                turns[-1].append(current)
                continue
            if current is not None:
                current["content"] += line + "\n"
    for batch in batches:
        for turn in batch["turns"]:
            for msg in turn:
                msg["content"] = msg["content"].strip()
    return batches, labels


def main() -> None:
    batches, labels = parse()
    raw = json.loads((HERE / "src" / "questions.json").read_text(encoding="utf-8"))
    probing = {
        kind: [
            {
                "question": q["question"],
                "answer": q["answer"],
                "source_chat_ids": [labels[s] for s in q["sources"]],
            }
            for q in items
        ]
        for kind, items in raw.items()
    }
    (HERE / "chat.json").write_text(json.dumps(batches, indent=1, ensure_ascii=False) + "\n")
    out = HERE / "probing_questions"
    out.mkdir(exist_ok=True)
    (out / "probing_questions.json").write_text(
        json.dumps(probing, indent=1, ensure_ascii=False) + "\n"
    )


if __name__ == "__main__":
    main()
