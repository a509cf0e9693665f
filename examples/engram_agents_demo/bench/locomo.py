"""LoCoMo evidence-recall benchmark: the Engram store against dense-only retrieval (same encoder),
BM25 and plain Chroma RAG, all measured in the same run on the same turn texts.

Each conversation is one user's memory; every turn is remembered with its session date as event
time; every question is asked at a query time just after the last session. recall@k is the share
of a question's evidence turns among the top k retrieved turns (see `bench.recall`)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from engram_agents.store.errors import InvalidInputError
from engram_agents_demo.bench.recall import START, Conversation, Question, Turn, date_or, run_cli

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


def load(path: str | Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read LoCoMo file {str(path)!r}: {exc}") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(
        isinstance(c, dict) and "conversation" in c and "qa" in c for c in data
    ):
        raise InvalidInputError(
            f"{path}: expected a list of conversations with 'conversation' and 'qa'"
        )
    return data


def turns_of(conversation: dict[str, Any]) -> list[Turn]:
    conv = conversation["conversation"]
    sessions = sorted(
        (int(m.group(1)), key)
        for key in conv
        if (m := re.fullmatch(r"session_(\d+)", key)) and isinstance(conv[key], list)
    )
    out = []
    date = START - timedelta(days=1)
    for number, key in sessions:
        date = date_or(conv.get(f"{key}_date_time"), date + timedelta(days=1))
        for turn in conv[key]:
            fields = turn if isinstance(turn, dict) else {}
            if missing := [f for f in ("speaker", "dia_id") if f not in fields]:
                raise InvalidInputError(f"{key} has a turn without {' or '.join(missing)}")
            text = f"{turn['speaker']}: {turn.get('text') or ''}"
            if turn.get("blip_caption"):
                text += f" [shares a photo of {turn['blip_caption']}]"
            out.append(Turn(dia_id=str(turn["dia_id"]), session=number, date=date, text=text))
    return out


def evidence_of(qa: dict[str, Any], known: set[str]) -> list[str]:
    """The question's evidence turns among `known`: items may hold several ids ("D8:6; D9:17",
    "D1:3 D1:5") and numbers written with leading zeros ("D30:05"); ids of no turn are dropped."""
    canonical = {_canonical(i): i for i in known}
    ids = [
        canonical.get(_canonical(p), p)
        for item in qa.get("evidence") or []
        for p in re.split(r"[;,\s]+", str(item))
        if p
    ]
    return [i for i in dict.fromkeys(ids) if i in known]


def _canonical(dia_id: str) -> str:
    match = re.fullmatch(r"D(\d+):(\d+)", dia_id)
    return f"D{int(match[1])}:{int(match[2])}" if match else dia_id


def conversations(path: str | Path) -> list[Conversation]:
    out = []
    for n, conversation in enumerate(load(path)):
        turns = turns_of(conversation)
        known = {t["dia_id"] for t in turns}
        questions = [
            Question(
                text=qa["question"],
                evidence=evidence_of(qa, known),
                category=CATEGORIES.get(qa.get("category"), "other"),
                answer=str(qa.get("answer", "")),
            )
            for qa in conversation["qa"]
        ]
        name = str(conversation.get("sample_id", n))
        out.append(Conversation(name=name, turns=turns, questions=questions))
    return out


def cli(argv: list[str]) -> int:
    """`engram-agents bench locomo FILE [--json] [--systems ...] [--encoder PATH|hashing]`."""
    return run_cli(
        argv, "engram-agents bench locomo", __doc__, "LoCoMo-format JSON file", conversations
    )
