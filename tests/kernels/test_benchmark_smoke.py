"""The GPU benchmark cannot be timed here, but its code paths can run: tiny shapes, CPU tensors,
kernels under the interpreter, and a stand-in timer."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "kernel_speed.py"


def test_benchmark_runs_every_op_on_tiny_shapes(capsys, load_benchmark):
    pytest.importorskip("triton")
    bench = load_benchmark("kernel_speed")

    def once(fn) -> float:
        fn()
        return 1.0

    report = bench.run(once, bench.SMOKE, "cpu", "cpu")
    ops = {row["op"] for row in report.results}
    assert ops == {
        "ngram_hash", "lookup", "hash_lookup_forward", "hash_lookup_forward_backward",
        "gate_forward", "engram_block_forward", "masked_topk", "host_table_prefill",
    }  # fmt: skip
    lines = capsys.readouterr().out.strip().splitlines()
    assert all(json.loads(line) for line in lines)


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the message on a machine without CUDA"
)
def test_benchmark_exits_clearly_without_cuda():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode != 0
    assert "needs a CUDA GPU" in done.stderr
