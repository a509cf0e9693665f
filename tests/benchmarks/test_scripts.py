"""Every benchmark script runs the way a user runs it: `python benchmarks/X.py` from the repo
root, which puts benchmarks/ first on sys.path — so no file there may shadow an installed
package (transformers imports Hugging Face's `kernels`)."""

import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))


def test_benchmarks_has_scripts():
    assert len(SCRIPTS) >= 5


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_prints_its_usage(script):
    done = subprocess.run(
        [sys.executable, f"benchmarks/{script.name}", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:"), done.stdout


def test_no_script_shadows_an_importable_package():
    """`kernels` is named even where it is not installed: transformers imports it when it is."""
    taken = {"kernels"} | set(packages_distributions()) | set(sys.stdlib_module_names)
    entries = (ROOT / "benchmarks").iterdir()
    names = {p.stem for p in entries if p.suffix == ".py" or p.is_dir()}
    assert names.isdisjoint(taken), sorted(names & taken)
