"""Format check for blind chat 2: it loads through the BEAM reader, every question's evidence ids
are message ids of the chat, ids run 0..n-1, time anchors never go back, and abstention items
have no evidence. Prints the sizes and the question counts per type.

Run with the repository's PYTHONPATH (see docs/notes/blind2.md)."""

from __future__ import annotations

import collections
import itertools
import json
from pathlib import Path

from engram_agents_demo.bench.beam import conversations

CHAT = Path(__file__).parent / "chats" / "100K" / "2"


def main() -> None:
    (conv,) = conversations(CHAT)
    ids = {t["dia_id"] for t in conv.turns}
    missing = [(q.text, e) for q in conv.questions for e in q.evidence if e not in ids]
    assert not missing, missing
    dates = [t["date"] for t in conv.turns]
    assert all(a <= b for a, b in itertools.pairwise(dates)), "time anchors go back"

    chat = json.loads((CHAT / "chat.json").read_text("utf-8"))
    messages = [m for batch in chat for group in batch["turns"] for m in group]
    assert [m["id"] for m in messages] == list(range(len(messages))), "ids are not 0..n-1"
    probing = json.loads((CHAT / "probing_questions" / "probing_questions.json").read_text())
    assert all(not item["source_chat_ids"] for item in probing["abstention"])
    roles = collections.Counter(m["role"] for m in messages)
    print(
        json.dumps(
            {
                "sessions": len(chat),
                "messages": len(messages),
                "user": roles["user"],
                "assistant": roles["assistant"],
                "characters": sum(len(m["content"]) for m in messages),
                "first_anchor": messages[0]["time_anchor"],
                "last_anchor": messages[-1]["time_anchor"],
                "questions": {kind: len(items) for kind, items in probing.items()},
                "questions_total": sum(len(items) for items in probing.values()),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
