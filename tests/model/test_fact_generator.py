"""The in-model recall benchmark's facts: enough distinct ones for the 200-fact run."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from fact_generator import UNRELATED_PROMPTS, generate_facts


def test_two_hundred_distinct_facts_with_reworded_questions_deterministic_by_seed():
    facts = generate_facts(200, seed=0)
    assert len({f.question for f in facts}) == 200
    assert all(f.paraphrase != f.question and f.answer for f in facts)
    assert {f.paraphrase for f in facts}.isdisjoint(f.question for f in facts)
    assert generate_facts(200, seed=0) == facts != generate_facts(200, seed=1)
    assert len(UNRELATED_PROMPTS) >= 50  # the locality probe of the issue


def test_asking_for_more_facts_than_exist_is_refused_by_count():
    with pytest.raises(ValueError, match="distinct facts"):
        generate_facts(10_000)
