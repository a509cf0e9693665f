"""The sketch's fast paths give exactly what the plain rules they replace give: a change that
only makes ingestion cheaper must not move one tag."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram_agents.store.sketch import _TOKEN, _sentence_start, engram_sketch

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
SKETCH_DIGEST = "6aa2827817423bbd380a548d805c8de1f11990689610d408901161ce324b1761"
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


def test_the_sketches_of_every_beam_turn_are_the_ones_main_gave():
    """A digest of the sketches of all 788 turns of the three BEAM-format sets, as the sketch
    code gave them before its fast paths (sentence starts looked back over whitespace,
    keywords tagged once per word). A deliberate change to the tag rules updates it (last: the
    `holds:` marks of the kinds of answer a turn holds)."""
    texts = []
    for name in ("beam_long", "beam_dev", "beam_help"):
        for chat in sorted((DATA / name).rglob("chat.json")):
            for batch in json.loads(chat.read_text()):
                texts += [(m["role"], m["content"]) for turn in batch["turns"] for m in turn]
    now = datetime(2024, 5, 8, 13, 56, tzinfo=UTC)
    digest = hashlib.sha256()
    for role, text in texts:
        digest.update(json.dumps(engram_sketch(text, now, role)).encode())
    assert len(texts) == 788
    assert digest.hexdigest() == SKETCH_DIGEST
