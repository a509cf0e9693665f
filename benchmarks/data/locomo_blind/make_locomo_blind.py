"""Assemble locomo_blind.json (LoCoMo's layout) from the hand-written conversations in `src/`.

Each `src/conv_<n>/` holds `session_NN.txt` files and `questions.json`. A session file starts
with `## SESSION <n> | <date and time as LoCoMo writes it>`; every other non-empty line is one
turn, `Speaker: text`, optionally opened by `@<label> ` (the name questions use for their
evidence, so text can be edited without renumbering) and closed by `{photo: <caption>}` (a shared
image, LoCoMo's `blip_caption`). questions.json is a list of `{"question", "answer",
"evidence": [labels], "category"}` with LoCoMo's categories (1 multi-hop, 2 temporal,
3 open-domain, 4 single-hop, 5 adversarial, whose answer LoCoMo calls `adversarial_answer`).
Deterministic: same text in, same JSON out (`python make_locomo_blind.py`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = re.compile(r"^## SESSION (\d+) \| (.+?)\s*$")
TURN = re.compile(r"^(?:@(\S+) )?([A-Z][\w.' -]*?): (.+?)(?: \{photo: (.+)\})?\s*$")


def session(path: Path) -> tuple[int, str, list[tuple[str | None, dict]]]:
    """One session file -> (number, date, [(label, turn)]) with LoCoMo's turn fields."""
    lines = [line for line in path.read_text("utf-8").splitlines() if line.strip()]
    head = HEADER.match(lines[0]) if lines else None
    if not head:
        raise ValueError(f"{path}: the first line must be '## SESSION <n> | <date>'")
    number, turns = int(head[1]), []
    for i, line in enumerate(lines[1:], start=1):
        turn = TURN.match(line)
        if not turn:
            raise ValueError(f"{path}: not a turn: {line[:60]!r}")
        label, speaker, text, photo = turn.groups()
        fields = {"speaker": speaker, "dia_id": f"D{number}:{i}", "text": text}
        if photo:
            fields["blip_caption"] = photo
        turns.append((label, fields))
    return number, head[2], turns


def _turns(conv: dict) -> list[dict]:
    """Every turn of a conversation's sessions, in order (not the `_date_time` entries)."""
    return [t for key, value in conv.items() if key[-1].isdigit() for t in value]


def conversation(folder: Path) -> dict:
    conv: dict = {}
    labels: dict[str, str] = {}
    for path in sorted(folder.glob("session_*.txt")):
        number, date, turns = session(path)
        conv[f"session_{number}_date_time"] = date
        conv[f"session_{number}"] = [fields for _, fields in turns]
        for label, fields in turns:
            if label:
                if label in labels:
                    raise ValueError(f"{path}: label {label} used twice")
                labels[label] = fields["dia_id"]
    speakers = list(dict.fromkeys(t["speaker"] for t in _turns(conv)))
    conv = {"speaker_a": speakers[0], "speaker_b": speakers[1], **conv}
    qa = []
    for item in json.loads((folder / "questions.json").read_text("utf-8")):
        unknown = [label for label in item["evidence"] if label not in labels]
        if unknown:
            raise ValueError(f"{folder.name}: {item['question']!r} names unknown labels {unknown}")
        key = "adversarial_answer" if item["category"] == 5 else "answer"
        evidence = [labels[label] for label in item["evidence"]]
        qa.append(
            {
                "question": item["question"],
                key: item["answer"],
                "evidence": evidence,
                "category": item["category"],
            }
        )
    return {"sample_id": f"blind-{folder.name.split('_')[-1]}", "conversation": conv, "qa": qa}


def main() -> None:
    folders = sorted((HERE / "src").glob("conv_*"), key=lambda p: int(p.name.split("_")[-1]))
    data = [conversation(folder) for folder in folders if (folder / "questions.json").exists()]
    (HERE / "locomo_blind.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    for c in data:
        turns, questions = len(_turns(c["conversation"])), len(c["qa"])
        print(json.dumps({"conversation": c["sample_id"], "turns": turns, "questions": questions}))


if __name__ == "__main__":
    main()
