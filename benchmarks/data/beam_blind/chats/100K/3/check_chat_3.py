"""Check blind chat 3: it loads with the BEAM reader and every evidence id is a message id.

Run with the worktree on PYTHONPATH (see docs/notes/blind3.md); prints sizes and question counts.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from engram_agents_demo.bench.beam import conversations

HERE = Path(__file__).parent


def main() -> None:
    chat = json.loads((HERE / "chat.json").read_text(encoding="utf-8"))
    messages = [m for batch in chat for turn in batch["turns"] for m in turn]
    if [m["id"] for m in messages] != list(range(len(messages))):
        raise SystemExit("message ids are not 0..n-1 in order")
    ids = {m["id"] for m in messages}
    probing = json.loads(
        (HERE / "probing_questions" / "probing_questions.json").read_text(encoding="utf-8")
    )
    for kind, items in probing.items():
        for item in items:
            missing = [i for i in item["source_chat_ids"] if i not in ids]
            if missing:
                raise SystemExit(f"{kind}: {item['question']!r} cites missing ids {missing}")
            if (kind == "abstention") != (item["source_chat_ids"] == []):
                raise SystemExit(f"{kind}: {item['question']!r} has the wrong evidence shape")
    (conv,) = [c for c in conversations(HERE.parents[2]) if c.name.endswith("/3")]
    turn_ids = {str(t["dia_id"]) for t in conv.turns}
    if any(e not in turn_ids for q in conv.questions for e in q.evidence):
        raise SystemExit("the BEAM reader sees an evidence id that is not a turn")
    roles = Counter(m["role"] for m in messages)
    print(
        json.dumps(
            {
                "sessions": len(chat),
                "messages": len(messages),
                "user": roles["user"],
                "assistant": roles["assistant"],
                "characters": sum(len(m["content"]) for m in messages),
                "first_anchor": chat[0]["turns"][0][0]["time_anchor"],
                "last_anchor": chat[-1]["turns"][0][0]["time_anchor"],
                "reader_turns": len(conv.turns),
                "questions": dict(Counter(q.category for q in conv.questions)),
                "total_questions": len(conv.questions),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
