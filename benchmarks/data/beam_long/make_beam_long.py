"""Writes a BEAM-format set whose evidence sits inside long assistant answers: three chats (a
home server, a trip to Scotland, a library's visit data) where the facts asked about are a
port, a time or a threshold in the middle of a 2,500-3,200-character answer with lists and
code, as agents' users ask about what the assistant told them. Same generator as `beam_dev`
(`make_beam_dev.write`: fillers, padding advice, ids), scripts in `long_scripts.json`:

    python benchmarks/data/beam_long/make_beam_long.py

Written by hand for this project (no BEAM text), before measuring; not a tuning target."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "beam_dev"))

from make_beam_dev import write  # noqa: E402

if __name__ == "__main__":
    write(HERE, HERE / "long_scripts.json", "long")
