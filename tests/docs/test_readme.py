"""The README's Python snippets run as written, each in a fresh process and folder, the way a
newcomer pastes them. Snippets that load the embedded language model are `heavy`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL_NAMES = re.compile(r"\b(EngramLM|ChatEngram|Engram)\b")


def snippets(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)


def cases() -> list:
    found = snippets(ROOT / "README.md")
    return [
        pytest.param(
            code, id=f"snippet{n}", marks=[pytest.mark.heavy] * bool(MODEL_NAMES.search(code))
        )
        for n, code in enumerate(found)
    ]


def test_readme_has_quick_starts() -> None:
    assert len(snippets(ROOT / "README.md")) >= 4


@pytest.mark.parametrize("code", cases())
def test_readme_snippet_runs(code: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip(), "a quick start prints what it shows"
