"""The LoCoMo benchmark CLI on the bundled sample."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engram_agents.store.encoders import HashingEncoder
from engram_agents_demo.bench.locomo import CATEGORIES, cli, evidence_of, load, turns_of
from engram_agents_demo.bench.recall import CachedEncoder

DATA = Path(__file__).parents[2] / "benchmarks" / "data"
SAMPLE = DATA / "locomo_sample.json"


@pytest.mark.parametrize("name", ["locomo_sample", "locomo_dev_a", "locomo_dev_b"])
def test_bundled_files_are_valid_locomo(name):
    conversations = load(DATA / f"{name}.json")
    for conv in conversations:
        known = {t["dia_id"] for t in turns_of(conv)}
        assert all(evidence_of(qa, known) for qa in conv["qa"])
        assert {qa["category"] for qa in conv["qa"]} <= set(CATEGORIES)


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        (["D1:3"], ["D1:3"]),
        (["D8:6; D9:17", "D1:3"], ["D8:6", "D9:17", "D1:3"]),
        (["D1:3 D1:10,D8:6"], ["D1:3", "D1:10", "D8:6"]),
        (["D08:06", "D1:03"], ["D8:6", "D1:3"]),
        (["D2:1", "", "D1:3", "D1:3"], ["D1:3"]),  # no such turn, empty, repeated
    ],
)
def test_evidence_ids_as_locomo_writes_them(evidence, expected):
    known = {"D1:3", "D1:10", "D8:6", "D9:17"}
    assert evidence_of({"evidence": evidence}, known) == expected


def _run(capsys, *args: str) -> dict:
    assert cli([str(SAMPLE), "--json", *args]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_cli_json_shape_with_toy_encoder(capsys):
    result = _run(capsys, "--encoder", "hashing", "--systems", "engram", "bm25")
    for system in ("engram", "bm25"):
        entry = result[system]
        assert set(entry) >= {"overall", "single-hop", "temporal", "latency_ms"}
        assert 0 <= entry["overall"]["recall@5"] <= entry["overall"]["recall@25"] <= 100
        assert entry["latency_ms"]["p50"] > 0 and entry["ingest_turns_per_s"] > 0
        assert entry["ingest_turns_per_s_excluding_encoding"] >= entry["ingest_turns_per_s"]


def test_encoding_time_counts_overlapping_calls_once():
    """The store may encode from two threads at once; ingestion "excluding encoding" subtracts
    the wall time spent encoding, which can never exceed the wall time of the whole ingestion."""
    both_inside = threading.Barrier(2)

    class Slow(HashingEncoder):
        def encode(self, texts: list[str]) -> np.ndarray:
            both_inside.wait(timeout=10)
            time.sleep(0.05)
            return super().encode(texts)

    cached = CachedEncoder(Slow(dim=8))
    start = time.perf_counter()
    threads = [threading.Thread(target=cached.encode, args=([f"turn {n}"],)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 0.05 <= cached.encode_s <= time.perf_counter() - start


def test_per_question_lines_agree_with_the_run(tmp_path):
    """`--per-question` in a subprocess, as users run it: one line per system and answerable
    question, whose evidence ranks give the recall@k the line and the run's JSON report."""
    path = tmp_path / "rows.jsonl"
    out = subprocess.run(
        [sys.executable, "-m", "engram_agents.cli", "bench", "locomo", str(SAMPLE), "--json",
         "--encoder", "hashing", "--systems", "engram", "bm25", "--per-question", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for system in ("engram", "bm25"):
        mine = [r for r in rows if r["system"] == system]
        assert len(mine) == result[system]["overall"]["questions"]
        for k in (5, 10, 25):
            mean = sum(r[f"recall@{k}"] for r in mine) / len(mine)
            assert mean == pytest.approx(result[system]["overall"][f"recall@{k}"], abs=0.01)
    for row in rows:
        assert len(row["ranked"]) == len(set(row["ranked"])) <= 25
        for turn_id, rank in zip(row["evidence"], row["evidence_ranks"], strict=True):
            where = row["ranked"].index(turn_id) + 1 if turn_id in row["ranked"] else None
            assert rank == where
        for k in (5, 10, 25):
            found = sum(rank is not None and rank <= k for rank in row["evidence_ranks"])
            assert row[f"recall@{k}"] == pytest.approx(100 * found / len(row["evidence"]), abs=0.01)
    assert {r["category"] for r in rows} <= set(CATEGORIES.values())


def test_per_question_path_that_cannot_be_written_fails_first(tmp_path, capsys):
    path = tmp_path / "missing" / "rows.jsonl"
    args = [str(SAMPLE), "--encoder", "hashing", "--systems", "bm25", "--per-question", str(path)]
    assert cli(args) == 2
    assert "--per-question" in capsys.readouterr().out and not path.parent.exists()


def test_cli_reports_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"nope": 1}')
    assert cli([str(bad), "--json"]) == 2
    assert "conversation" in capsys.readouterr().out


@pytest.mark.heavy
def test_full_benchmark_with_minilm(capsys):
    result = _run(capsys)
    assert set(result) >= {"engram", "dense", "bm25", "chroma"}
    assert result["engram"]["overall"]["recall@25"] > 50


@pytest.mark.heavy
def test_store_beats_dense_retrieval_on_a_long_conversation(capsys):
    assert cli([str(DATA / "locomo_dev_b.json"), "--json", "--systems", "engram", "dense"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["engram"]["overall"]["recall@10"] > result["dense"]["overall"]["recall@10"]


def test_margins_read_the_bars_off_a_run():
    from engram_agents_demo.bench.report import margins

    def entry(overall: list[float], **rows: list[float]) -> dict:
        as_row = lambda r: dict(zip(("recall@5", "recall@10", "recall@25"), r, strict=True))  # noqa: E731
        return {"overall": as_row(overall), **{k: as_row(v) for k, v in rows.items()},
                "latency_ms": {"p50": 1.0}}  # fmt: skip

    results = {
        "engram": entry([60, 70, 80], temporal=[50, 40, 90], **{"conversation:a": [60, 70, 80]}),
        "dense": entry([50, 60, 82], temporal=[40, 45, 90], **{"conversation:a": [50, 70, 80]}),
        "bm25": entry([55, 72, 70]),
        "meta": {},
    }
    assert margins(results) == {
        "engram": {
            "minus_best_baseline": {"recall@5": 5, "recall@10": -2, "recall@25": -2},
            "minus_dense": {"recall@5": 10, "recall@10": 10, "recall@25": -2},
            "below_dense": ["overall recall@25", "temporal recall@10"],
        }
    }
    assert margins({"engram": results["engram"], "meta": {}}) == {}  # no baseline in the run


def _conversation(sessions: dict) -> dict:
    return {"conversation": sessions, "qa": []}


def test_sessions_without_a_readable_date_follow_the_one_before():
    turn = {"speaker": "Ana", "dia_id": "D1:1", "text": "Hi"}
    conv = _conversation({
        "session_1": [turn], "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_2": [turn | {"dia_id": "D2:1"}], "session_2_date_time": "None",
        "session_3": [turn | {"dia_id": "D3:1", "text": None}],  # no date at all, no text
    })  # fmt: skip
    turns = turns_of(conv)
    days = [t["date"].date().isoformat() for t in turns]
    assert days == ["2023-05-08", "2023-05-09", "2023-05-10"]
    assert turns[2]["text"] == "Ana: "
    (first,) = turns_of(_conversation({"session_1": [turn | {"dia_id": 7}]}))
    assert (first["dia_id"], first["date"].date().isoformat()) == ("7", "2024-01-01")


@pytest.mark.parametrize("bad", [{"speaker": "Ana", "text": "Hi"}, {"dia_id": "D1:1"}, "Hi"])
def test_a_turn_without_speaker_or_id_is_named(tmp_path, capsys, bad):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([_conversation({"session_1": [bad]})]))
    assert cli([str(path)]) == 2
    assert "session_1 has a turn without" in capsys.readouterr().out
