"""Format check of blind chat 1 (the only check run on it: no retrieval system touches this chat).

Loads the chat through the project's BEAM reader, checks every evidence id names a message of the
chat, that ids increase from 0, that every message has a time anchor moving forward, and prints
the sizes and the question counts per type as one JSON object.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

from engram_agents_demo.bench.beam import conversations

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]  # benchmarks/data/beam_blind


def main() -> None:
    chat = json.loads((HERE / "chat.json").read_text(encoding="utf-8"))
    messages = [m for batch in chat for turn in batch["turns"] for m in turn]
    assert [m["id"] for m in messages] == list(range(len(messages))), "ids must run 0, 1, 2, ..."
    anchors = [datetime.strptime(m["time_anchor"], "%B-%d-%Y") for m in messages]
    assert anchors == sorted(anchors), "time anchors must not go backwards"
    (conv,) = [c for c in conversations(ROOT) if c.name.endswith("100K/1")]
    loaded = {turn["dia_id"] for turn in conv.turns}
    missing = [(q.text, e) for q in conv.questions for e in q.evidence if e not in loaded]
    assert not missing, f"evidence ids not in the chat: {missing}"
    for q in conv.questions:
        assert q.evidence or q.category == "abstention", f"no evidence: {q.text}"
    print(
        json.dumps(
            {
                "conversation": conv.name,
                "sessions": len(chat),
                "messages": len(messages),
                "user_messages": sum(m["role"] == "user" for m in messages),
                "assistant_messages": sum(m["role"] == "assistant" for m in messages),
                "characters": sum(len(m["content"]) for m in messages),
                "first_anchor": messages[0]["time_anchor"],
                "last_anchor": messages[-1]["time_anchor"],
                "questions": len(conv.questions),
                "per_type": dict(Counter(q.category for q in conv.questions)),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
