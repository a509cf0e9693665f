"""`benchmarks/dev_sets.py` runs `bench` on each development set and gathers the reports."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "benchmarks/dev_sets.py", *args],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_each_set_is_reported_as_its_bench_run_reports_it():
    done = _run("--sets", "sample", "beam_dev", "--encoder", "hashing", "--systems", "engram",
                "bm25", "--variant", 'nofloor={"dense_floor": 0}')  # fmt: skip
    assert done.returncode == 0, done.stderr
    *table, last = done.stdout.strip().splitlines()
    result = json.loads(last)
    assert list(result["sets"]) == ["sample", "beam_dev"] and result["machine"]["cpus"]
    alone = subprocess.run(
        [sys.executable, "-m", "engram_agents.cli", "bench", "locomo",
         "benchmarks/data/locomo_sample.json", "--json", "--encoder", "hashing", "--systems",
         "engram", "bm25", "--variant", 'nofloor={"dense_floor": 0}'],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    expected = json.loads(alone.stdout.strip().splitlines()[-1])
    for system in ("engram", "bm25", "engram[nofloor]"):
        got = result["sets"]["sample"][system]["overall"]
        assert got == expected[system]["overall"]
        cells = f"{got['recall@5']:.1f}/{got['recall@10']:.1f}/{got['recall@25']:.1f}"
        assert cells in next(line for line in table if line.startswith("sample"))
    assert result["sets"]["beam_dev"]["meta"]["conversations"] == 4


def test_a_failing_set_is_named():
    done = _run("--sets", "sample", "--encoder", "hashing", "--variant", "bad")
    assert done.returncode != 0 and "sample: bench failed" in done.stderr
