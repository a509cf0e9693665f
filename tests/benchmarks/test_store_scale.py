"""`benchmarks/store_scale.py` runs end to end as a user runs it, with and without the queries
encoded by the embedded MiniLM (tiny sizes: the numbers themselves are not checked)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _run(args: list[str]) -> dict:
    """The script as a user runs it; its last line, the JSON object."""
    done = subprocess.run(
        [sys.executable, "benchmarks/store_scale.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("encode", [[], ["--encode-queries"]], ids=["lookup", "minilm"])
def test_store_scale_runs_and_reports_each_size(encode):
    args = ["--sizes", "300", "--queries", "5", "--turn-words", "8", *encode]
    out = _run(args)
    (size,) = out["store_scale"]
    assert size["engrams"] == 300 and out["machine"]["cpus"]
    assert (size["queries_encoded_by"] or "").startswith("onnx-int8:" if encode else "")
    assert bool(size["queries_encoded_by"]) is bool(encode)
    stages = size["recall"]["cpu_ms_per_stage_mean"]
    assert stages["query encode"] > 0 and size["recall"]["wall_ms"]["p95"] > 0


def test_touch_cost_times_both_codes_on_one_store():
    args = ["--sizes", "300", "--turn-words", "8", "--touch-cost", "--baseline", str(ROOT)]
    args += ["--flushes", "2", "--repeats", "2", "--touch-buffer", "16"]
    out = _run(args)
    (size,) = out["touch_cost"]
    assert size["engrams"] == 300 and out["machine"]["cpus"]
    assert [len(size["runs"][code]) for code in ("baseline", "branch")] == [2, 2]
    for mean in size["mean"].values():
        assert mean["scanned"] == 300 and mean["flush_cpu_ms_per_recall"] > 0
