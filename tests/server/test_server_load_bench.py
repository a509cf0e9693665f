"""The load benchmark runs end to end (a tiny run: the numbers themselves are not checked)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(
    "offered",
    [
        [],
        ["--rate", "20"],
        ["--keys", "--workers", "2"],
        ["--server-only", "--write-patience", "0.25"],
    ],
    ids=["closed-loop", "open-loop", "keys-two-workers", "server-only-recalls-first"],
)
def test_service_load_smoke(load_benchmark, capsys, offered):
    bench = load_benchmark("service_load")
    args = ["--clients", "2", "--seconds", "1", "--encoder", "hashing", "--seed-per-user", "5"]
    assert bench.main(args + offered) == 0
    out = json.loads(capsys.readouterr().out)
    level = out["service_load"][0]
    assert level["clients"] == 2 and out["machine"]["cpus"]
    assert level["server"]["all"]["errors"] == 0
    assert level["server"]["lost_writes"] == 0
    assert level["server"]["recall"]["requests"] > 0
    assert level["server"]["server_cpu_ms_per_request"] > 0
    assert level["server"]["client_cpu_ms_per_request"] > 0
    assert isinstance(level["server"]["meets_bar"], bool)
    if "--server-only" in offered:
        assert "in_process" not in level and out["write_patience"] == 0.25
    else:
        assert level["in_process"]["recall"]["requests"] > 0
        assert level["in_process"]["cpu_ms_per_request"] > 0
