"""The batched-ranking benchmark runs end to end (a tiny run: the numbers are not checked)."""

from __future__ import annotations

import json


def test_recall_batch_speed_smoke(load_benchmark, capsys):
    bench = load_benchmark("recall_batch_speed")
    args = ["--rounds", "1", "--batches", "2", "--batch-size", "5", "--seed-per-user", "10"]
    assert bench.main([*args, "--encoder", "hashing"]) == 0
    out = json.loads(capsys.readouterr().out)
    speed = out["recall_batch_speed"]
    assert speed["one_by_one_cpu_ms_per_recall"] > 0 and speed["batched_cpu_ms_per_recall"] > 0
    assert out["machine"]["cpus"] and out["encoder"] == "hashing"
