"""benchmarks/gpu_check.py measures the GPU path in one short lease; its `--smoke` run takes
every code path on the CPU (tiny random model, tiny tables) so that the script cannot rot while
no GPU is at hand."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, tokenizer_dir):
    pytest.importorskip("triton")
    out = tmp_path_factory.mktemp("gpu-check") / "tmp.json"
    cmd = [sys.executable, "benchmarks/gpu_check.py", "--smoke", "--out", str(out)]
    done = subprocess.run(
        [*cmd, "--tokenizer", str(tokenizer_dir)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_every_section_ran_and_none_failed(smoke):
    result, _ = smoke
    assert result["failed_sections"] == []
    for name in (
        "kernels",
        "store_dense",
        "memorize",
        "logits",
        "decode",
        "prefill",
        "in_model_recall",
        "demo",
    ):
        assert "error" not in result[name] and "skipped" not in result[name], name
    assert result["smoke"] is True and result["device"] == "cpu"
    assert result["model"]["kind"].startswith("tiny random") and not result["model"]["real_weights"]


def test_kernel_section_has_every_op_with_its_baseline(smoke):
    kernels = smoke[0]["kernels"]
    ops = {row["op"] for row in kernels["results"]}
    assert {"lookup", "hash_lookup_forward", "gate_forward", "masked_topk"} <= ops
    assert "host_table_prefill" in ops and kernels["copy_GBps"] > 0
    assert all({"ms", "reference_ms", "speedup"} <= row.keys() for row in kernels["results"])


def test_store_dense_section_compares_numpy_and_the_device_copy(smoke):
    rows = smoke[0]["store_dense"]["rows"]
    assert [(r["mask_share"], r["n"]) for r in rows] == [(1.0, 5), (1.0, 50), (0.05, 5)]
    for row in rows:
        assert row["numpy_ms"] > 0 and row["device_ms"] > 0 and row["N"] == 2_000
        assert row["same_top_share"] >= 0.9  # fp16 may swap a near-tie at the cut, no more


def test_model_sections_hold_their_figures(smoke):
    result, stdout = smoke
    logits = result["logits"]
    assert logits["max_abs_diff"] == 0.0  # CPU: both sides are the references
    assert logits["engram_effect_max_abs"] > 0  # memorized facts are really read
    assert [row["batch"] for row in result["decode"]["rows"]] == [1, 2]
    for row in result["decode"]["rows"]:
        assert min(row["tokens_per_s_off"], row["tokens_per_s_engram"]) > 0
    prefill = result["prefill"]
    assert prefill["tokens_per_s_device_tables"] > 0 and prefill["tokens_per_s_host_tables"] > 0
    assert result["memorize"]["facts"] == 3 and result["memorize"]["s_per_fact"] > 0
    assert 0 <= result["in_model_recall"]["verbatim_recall"] <= 1
    assert result["demo"]["command"][:6] == [
        "demo",
        "calendar",
        "--mode",
        "rag",
        "hybrid",
        "--json",
    ]
    assert "prefill host-table loss" in stdout and "logits max |triton - torch|" in stdout
