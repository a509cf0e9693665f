"""BEAM evidence-recall benchmark (long user–assistant chats): the Engram store against the same
in-run baselines as `bench locomo` (see `bench.recall`).

Reads BEAM's own layout under DIR: every `chat.json` (a list of batches, each
`{"batch_number", "turns": [[{"role", "id", "content", "time_anchor"?}, ...], ...]}`; the 10M
chats' `{"plan-1": [batch, ...], ...}` entries and batches given as bare message lists are read
too) with its sibling `probing_questions/probing_questions.json` (question type -> items with
`question` and `source_chat_ids`, a list of message ids or a dict of such lists; the file may
also hold that mapping as a string, as the dataset's parquet export does). Every message is a
turn, prefixed with its role; each batch is a session. Items without source ids (abstention)
are skipped: there is nothing to recall."""

from __future__ import annotations

import ast
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engram_agents.store.errors import InvalidInputError
from engram_agents_demo.bench.recall import START, Conversation, Question, Turn, date_or, run_cli

# Where a chat's questions are: BEAM's own folder, or a file beside the chat.
PROBING = ("probing_questions/probing_questions.json", "probing_questions.json")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read BEAM file {str(path)!r}: {exc}") from exc


def _anchor(value: Any, fallback: datetime) -> datetime:
    """A message's `time_anchor` ("March-15-2024"), or `fallback` (one day per batch)."""
    return date_or(str(value).replace("-", " ") if value else value, fallback)


def batches_of(chat: Any, path: Path) -> list[dict[str, Any]]:
    """The chat's batches in order, each a dict with its `turns`: a 10M chat's plans
    (`"plan-N"` keys) are read plan by plan, in their numbers' order, and a batch given as a
    bare list of messages is that list's turns."""
    if not isinstance(chat, list):
        raise InvalidInputError(f"{path}: expected a list of batches with 'turns'")
    out: list[Any] = []
    for entry in chat:
        plans = sorted(
            (int(m.group(1)), key)
            for key in (entry if isinstance(entry, dict) else ())
            if (m := re.fullmatch(r"plan-(\d+)", str(key)))
        )
        out += [b for _, key in plans for b in entry[key] or []] if plans else [entry]
    out = [{"turns": b} if isinstance(b, list) else b for b in out]
    if not all(isinstance(b, dict) and "turns" in b for b in out):
        raise InvalidInputError(f"{path}: expected a list of batches with 'turns'")
    return out


def turns_of(chat: Any, path: Path) -> list[Turn]:
    out: list[Turn] = []
    for n, batch in enumerate(batches_of(chat, path)):
        session = batch.get("batch_number", n + 1)
        date = START + timedelta(days=n)
        for group in batch["turns"]:
            for message in group if isinstance(group, list) else [group]:
                if not isinstance(message, dict) or "id" not in message:
                    raise InvalidInputError(f"{path}: batch {session} has a message without 'id'")
                date = _anchor(message.get("time_anchor"), date)
                text = f"{message.get('role') or 'user'}: {message.get('content') or ''}"
                out.append(Turn(dia_id=str(message["id"]), session=session, date=date, text=text))
    return out


def source_ids(item: dict[str, Any]) -> list[str]:
    """`source_chat_ids` as a flat list of message ids, whether a list or a dict of lists."""
    ids = item.get("source_chat_ids") or []
    if isinstance(ids, dict):
        ids = [i for part in ids.values() for i in (part if isinstance(part, list) else [part])]
    elif not isinstance(ids, list):
        ids = [ids]
    return list(dict.fromkeys(str(i) for i in ids))


# Where BEAM keeps an item's gold answer, by question type.
ANSWER_KEYS = ("answer", "ideal_answer", "ideal_response", "ideal_summary", "expected_compliance")


def questions_of(probing: Any, path: Path) -> list[Question]:
    if isinstance(probing, str):
        try:
            probing = ast.literal_eval(probing)
        except (ValueError, SyntaxError) as exc:
            raise InvalidInputError(f"{path}: cannot read the question types: {exc}") from exc
    if not isinstance(probing, dict):
        raise InvalidInputError(f"{path}: expected question types mapped to lists of items")
    return [
        Question(
            text=str(item["question"]),
            evidence=source_ids(item),
            category=str(kind),
            answer=str(next((item[k] for k in ANSWER_KEYS if item.get(k)), "")),
        )
        for kind, items in probing.items()
        for item in (items if isinstance(items, list) else [items])
        if isinstance(item, dict) and item.get("question")
    ]


def conversations(root: str | Path) -> list[Conversation]:
    """Every chat under `root` (BEAM's top folder, one size's folder or one chat's folder)."""
    root = Path(root)
    chats = sorted(root.rglob("chat.json"), key=lambda p: [_natural(s) for s in p.parts])
    if not chats:
        raise InvalidInputError(f"no chat.json under {str(root)!r} (expected BEAM's layout)")
    out = []
    for chat in chats:
        found = [chat.parent / name for name in PROBING if (chat.parent / name).exists()]
        if not found:
            raise InvalidInputError(f"{chat}: no {' or '.join(PROBING)} beside it")
        probing = found[0]
        name = str(chat.parent.relative_to(root)) if chat.parent != root else chat.parent.name
        out.append(
            Conversation(
                name=name,
                turns=turns_of(_read(chat), chat),
                questions=questions_of(_read(probing), probing),
            )
        )
    return out


def _natural(part: str) -> tuple[int, str]:
    return (int(part), "") if part.isdigit() else (-1, part)


def cli(argv: list[str]) -> int:
    """`engram-agents bench beam DIR [--json] [--systems ...] [--encoder PATH|hashing]`."""
    return run_cli(
        argv,
        "engram-agents bench beam",
        __doc__,
        "BEAM folder (holds chat.json files)",
        conversations,
    )
