"""`benchmarks/half_vectors.py` runs as a user runs it (a small store, both kinds of rows): the
float16 and float32 copies are what they say, and on these real turns they rank alike."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_half_vectors_reports_both_copies():
    done = subprocess.run(
        [sys.executable, "benchmarks/half_vectors.py", "benchmarks/data/locomo_sample.json",
         "--rows", "400", "--queries", "12", "--long-every", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["loaded_as"] == {"sentences": "float32", "passages": "float32"}  # a small scope
    memory = out["memory"]
    for part in ("sentences", "passages"):
        half, single = memory[f"{part} float16"], memory[f"{part} float32"]
        assert (half["dtype"], single["dtype"]) == ("float16", "float32")
        assert half["rows"] == single["rows"] > 0
    assert set(out["recall_cpu_ms"]) == {"float16", "float32"} and out["queries"] == 12
    assert out["top1_differing"] <= 2  # float16 may flip a near tie (0 on this project's VM)
