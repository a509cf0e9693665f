"""The held-out answer benchmark (benchmarks/locomo_answers.py): its scoring and one tiny run."""

import io
import json
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parents[2] / "benchmarks" / "data" / "locomo_sample.json"


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("locomo_answers")


def test_scores_follow_locomo_normalization(bench):
    assert bench.words("The Bike-shop, downtown!") == ["bikeshop", "downtown"]
    # articles dropped: 5 of the reply's 7 words, all 5 of the gold answer's: P = 5/7, R = 1
    assert bench.f1(
        "Tom works at a bike repair shop downtown.", "At a bike repair shop downtown"
    ) == (pytest.approx(2 * (5 / 7) * 1 / (5 / 7 + 1)))
    assert bench.f1("no idea", "Pistachio") == 0.0
    assert bench.gold_recall("named Luna, not Pistachio", "Pistachio the cat") == 0.5


def test_a_tiny_run_scores_every_weight_against_the_first(bench, tiny_lm, tmp_path):
    data = json.loads(SAMPLE.read_text())
    conversation = (data if isinstance(data, list) else [data])[0]
    conversation["qa"] = [q for q in conversation["qa"] if q.get("category") != 5][:2]
    path = tmp_path / "two.json"
    path.write_text(json.dumps([conversation]))
    log = io.StringIO()
    result = bench.run(tiny_lm, str(path), [0.0, 0.5], k=3, max_new_tokens=4, log=log)
    assert result["questions"] == 2
    baseline = result["weights"]["0.0"]
    assert baseline["f1_ratio_to_baseline"] == (1.0 if baseline["f1"] else None)
    assert set(result["weights"]) == {"0.0", "0.5"}
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [line["weight"] for line in lines] == [0.0, 0.5, 0.0, 0.5]
    assert {line["question"] for line in lines} == {q["question"] for q in conversation["qa"]}
