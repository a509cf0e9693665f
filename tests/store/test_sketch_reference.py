"""The sketch's fast paths give exactly what the plain rules they replace give: a change that
only makes ingestion cheaper must not move one tag."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engram_agents.store.sketch import _TOKEN, _sentence_start

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
# The rule as it was written first: a scan of everything before the token.
_SENTENCE_END = re.compile(r"[.!?:;\"“”()\n]\s*$")


def _reference_sentence_start(text: str, start: int) -> bool:
    return start == 0 or bool(_SENTENCE_END.search(text[:start]))


def _chat_texts() -> list[str]:
    texts = []
    for chat in sorted((DATA / "beam_long").rglob("chat.json")):
        for batch in json.loads(chat.read_text()):
            texts += [m["content"] for turn in batch["turns"] for m in turn]
    return texts


EDGES = [
    "Alice met Bob. Then Carol",
    "  Leading spaces Then Name",
    "\tTab\u00a0NoBreak\u2003Em space Word",
    "a line\n  Indented Next",
    'He said "Hello" (Maybe) Later: Yes; No! Why? Because',
    "3. Check Docker\n4. Restart Nginx \r\n Done",
    "end with space \n",
    "“Quoted” Name",
]


@pytest.mark.parametrize("text", EDGES)
def test_sentence_start_matches_the_scan_at_every_position(text: str) -> None:
    for start in range(len(text) + 1):
        assert _sentence_start(text, start) == _reference_sentence_start(text, start), start


def test_sentence_start_matches_the_scan_on_long_chat_turns() -> None:
    texts = _chat_texts()
    assert sum(len(t) > 1000 for t in texts) > 100  # the long assistant answers are there
    for text in texts:
        for match in _TOKEN.finditer(text):
            got = _sentence_start(text, match.start())
            assert got == _reference_sentence_start(text, match.start()), (text, match.start())
