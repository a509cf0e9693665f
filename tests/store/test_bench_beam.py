"""`engram-agents bench beam` on BEAM-format files written here, and the bundled dev set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engram_agents.store.errors import InvalidInputError
from engram_agents_demo.bench.beam import conversations

DEV = Path(__file__).parents[2] / "benchmarks" / "data" / "beam_dev"


def _message(role: str, mid: int, content: str, anchor: str | None = None) -> dict:
    out = {"role": role, "id": mid, "content": content}
    return out | ({"time_anchor": anchor} if anchor else {})


def write_chat(folder: Path, batches: list, probing: dict) -> Path:
    (folder / "probing_questions").mkdir(parents=True)
    (folder / "chat.json").write_text(json.dumps(batches))
    (folder / "probing_questions" / "probing_questions.json").write_text(json.dumps(probing))
    return folder


@pytest.fixture
def beam_dir(tmp_path: Path) -> Path:
    batches = [
        {
            "batch_number": 1,
            "turns": [
                [
                    _message(
                        "user",
                        0,
                        "I'm building a Flask app for my bakery, add a route?",
                        "March-15-2024",
                    ),
                    _message("assistant", 1, "Sure, here is a route:\n```\n@app.route('/')\n```"),
                ],
                [
                    _message("user", 2, "My sister Mara runs the shop's tablet."),
                    _message("assistant", 3, "Noted, the tablet can read orders."),
                ],
            ],
        },
        {
            "batch_number": 2,
            "turns": [[_message("user", 4, "We moved the database to PostgreSQL.")]],
        },
    ]
    probing = {
        "information_extraction": [
            {"question": "What is my app for?", "answer": "a bakery", "source_chat_ids": [0]},
        ],
        "multi_session_reasoning": [
            {
                "question": "Who reads orders, and on which database?",
                "ideal_answer": "Mara; PostgreSQL",
                "source_chat_ids": {"first": [2], "second": [4]},
            }
        ],
        "abstention": [{"question": "What is my dog's name?", "answer": "not stated"}],
    }
    write_chat(tmp_path / "chats" / "100K" / "1", batches, probing)
    write_chat(
        tmp_path / "chats" / "100K" / "2",
        batches[:1],
        {"x": [probing["information_extraction"][0]]},
    )
    return tmp_path


def test_reads_beam_layout(beam_dir):
    chats = conversations(beam_dir)
    assert [c.name for c in chats] == ["chats/100K/1", "chats/100K/2"]
    first = chats[0]
    assert [t["dia_id"] for t in first.turns] == ["0", "1", "2", "3", "4"]
    assert first.turns[0]["text"].startswith("user: I'm building a Flask app")
    assert first.turns[0]["date"].date().isoformat() == "2024-03-15"
    assert [t["session"] for t in first.turns] == [1, 1, 1, 1, 2]
    by_text = {q.text: q for q in first.questions}
    assert by_text["Who reads orders, and on which database?"].evidence == ["2", "4"]
    assert by_text["What is my app for?"].category == "information_extraction"
    assert by_text["What is my dog's name?"].evidence == []  # abstention: skipped at run time
    assert conversations(beam_dir / "chats" / "100K" / "2")[0].name == "2"


def test_reads_the_10m_plans_bare_batches_and_a_stringified_question_file(tmp_path):
    """The shapes BEAM's larger chats and its parquet export take: plans of batches ("plan-10"
    after "plan-2"), a batch given as a bare list of messages, "None" anchors, the questions as
    a Python-literal string, gold answers under `ideal_response`, questions beside the chat."""
    batch = {"batch_number": 1, "turns": [[_message("user", 0, "I use Vim.", "May-02-2024")]]}
    chat = [
        {
            "plan-10": [{"turns": [[_message("user", 3, "Now I use Helix.", "None")]]}],
            "plan-2": [batch, {"turns": [[_message("assistant", 1, "Vim it is.")]]}],
        },
        [[_message("user", 4, "Helix has no plugins.", "June-01-2024")], []],
    ]
    folder = tmp_path / "10M" / "1"
    folder.mkdir(parents=True)
    (folder / "chat.json").write_text(json.dumps(chat))
    probing = {"knowledge_update": [{"question": "Which editor?", "ideal_response": "Helix",
                                     "source_chat_ids": {"old": [0], "new": [3]}}]}  # fmt: skip
    (folder / "probing_questions.json").write_text(json.dumps(repr(probing)))
    (only,) = conversations(tmp_path)
    assert [t["dia_id"] for t in only.turns] == ["0", "1", "3", "4"]
    assert [t["session"] for t in only.turns] == [1, 2, 3, 4]
    dates = [t["date"].date().isoformat() for t in only.turns]
    assert dates == ["2024-05-02", "2024-01-02", "2024-01-03", "2024-06-01"]
    (question,) = only.questions
    assert (question.evidence, question.answer) == (["0", "3"], "Helix")


@pytest.mark.parametrize(
    ("chat", "message"),
    [([{"plan-1": [{"no": "turns"}]}], "batches"), ([[["not a message"]]], "without 'id'")],
)
def test_bad_plans_and_bare_batches_are_named(tmp_path, chat, message):
    write_chat(tmp_path / "1", chat, {"x": [{"question": "q?", "source_chat_ids": [0]}]})
    with pytest.raises(InvalidInputError, match=message):
        conversations(tmp_path)


def test_cli_reports_every_system_and_question_type(beam_dir):
    out = subprocess.run(
        [sys.executable, "-m", "engram_agents.cli", "bench", "beam", str(beam_dir), "--json",
         "--encoder", "hashing", "--systems", "engram", "dense", "bm25",
         "--variant", 'nostmt={"weights": {"statement": 0}}'],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(result) == {"engram", "dense", "bm25", "engram[nostmt]", "meta"}
    for system in ("engram", "dense", "bm25", "engram[nostmt]"):
        entry = result[system]
        # abstention has no evidence, so it is not a row; three answerable questions in all
        assert entry["overall"]["questions"] == 3
        assert entry["multi_session_reasoning"]["questions"] == 1
        assert "abstention" not in entry
        assert entry["conversation:chats/100K/1"]["questions"] == 2
        # five turns in the first chat: k = 25 holds every one of them
        assert entry["overall"]["recall@25"] == 100.0
    assert result["meta"]["turns"] == 9  # five in the first chat, four in the second
    margins = result["meta"]["margins"]
    assert set(margins) == {"engram", "engram[nostmt]"}
    assert margins["engram"]["minus_dense"]["recall@25"] == 0.0  # both hold every turn there


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: (d / "chats/100K/1/probing_questions/probing_questions.json").unlink(),
            "probing",
        ),
        (lambda d: (d / "chats/100K/1/chat.json").write_text('{"no": 1}'), "batches"),
        (lambda d: (d / "chats/100K/1/chat.json").write_text("[{"), "cannot read"),
    ],
)
def test_bad_layout_is_named(beam_dir, edit, message):
    edit(beam_dir)
    with pytest.raises(InvalidInputError, match=message):
        conversations(beam_dir)


def test_empty_folder_is_named(tmp_path):
    with pytest.raises(InvalidInputError, match=r"no chat\.json"):
        conversations(tmp_path)


def test_bad_variant_is_named(beam_dir, capsys):
    from engram_agents_demo.bench.beam import cli

    assert cli([str(beam_dir), "--variant", "oops"]) == 2
    assert "NAME=JSON" in capsys.readouterr().out


def test_bundled_dev_set_is_valid_beam():
    chats = conversations(DEV)
    assert len(chats) == 4
    for chat in chats:
        known = {t["dia_id"] for t in chat.turns}
        answerable = [q for q in chat.questions if q.evidence]
        assert len(answerable) >= 6 and all(set(q.evidence) <= known for q in answerable)
        assert max(len(t["text"]) for t in chat.turns) > 1500  # long assistant answers


def test_bundled_long_answer_set_is_valid_beam_with_evidence_past_the_window():
    chats = conversations(DEV.parent / "beam_long")
    assert len(chats) == 3
    for chat in chats:
        text = {t["dia_id"]: t["text"] for t in chat.turns}
        answerable = [q for q in chat.questions if q.evidence]
        assert len(answerable) >= 7 and all(set(q.evidence) <= text.keys() for q in answerable)
        assert sum(len(text[e]) > 2000 for q in answerable for e in q.evidence) >= 5


def test_the_bench_encoder_keeps_the_window_so_the_store_reads_passages():
    from engram_agents.store.encoders import HashingEncoder
    from engram_agents.store.passages import encoder_window
    from engram_agents_demo.bench.recall import CachedEncoder

    assert encoder_window(CachedEncoder(HashingEncoder(max_words=64))) == 64
    assert encoder_window(CachedEncoder(HashingEncoder())) is None
