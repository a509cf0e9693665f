"""Two measurements on LoCoMo- and BEAM-format data, each against its baselines in the same run:

1. `observe_reply` (the self-supervised usefulness signal). Per conversation, the questions with
   evidence are ordered by their latest evidence turn (the order an agent would meet them) and
   split in halves. For the first half, the store recalls (k=10) and the gold answer is taken
   as the model's reply (`observe_reply`); recall@5/10/25 is then measured on the second half
   for the same turns stored for a user who got no replies, for the user who did, and dense
   retrieval with the same encoder. Nothing is chosen on the second half.
2. The supersede rule. Turns hidden by supersession that are a question's evidence, and
   recall@k over every question with `include_superseded=False` (what an agent sees by default)
   with the rule as configured, switched off and in each `--rule NAME=JSON` (StoreConfig fields),
   beside the bench's `include_superseded=True`.

    python benchmarks/reply_use.py --locomo ../shared/data/locomo/locomo_dev3.json \
        --beam benchmarks/data/beam_dev --answers benchmarks/data/beam_dev_answers.json

Prints one JSON object (with the machine it ran on)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engram_agents.memory import EngramMemory
from engram_agents.store.config import FusionWeights, StoreConfig
from engram_agents.store.encoders import default_encoder
from engram_agents_demo.bench import beam, locomo
from engram_agents_demo.bench.recall import (
    KS,
    CachedEncoder,
    Conversation,
    Question,
    dense_system,
    machine,
    remember_turns,
)

OBSERVE_K = 10
RULE_OFF = StoreConfig(supersede_similarity=1.0, supersede_keyword_overlap=1.0)


def halves(
    conversation: Conversation, within_first: bool = False
) -> tuple[list[Question], list[Question]]:
    """Questions with evidence, by their latest evidence turn: the first half and the rest
    (`within_first`: the first half's own halves, to choose settings without the second)."""
    at = {t["dia_id"]: n for n, t in enumerate(conversation.turns)}
    asked = [q for q in conversation.questions if any(e in at for e in q.evidence)]
    asked.sort(key=lambda q: max(at[e] for e in q.evidence if e in at))
    if within_first:
        asked = asked[: len(asked) // 2]
    return asked[: len(asked) // 2], asked[len(asked) // 2 :]


def turn_ids(hits: list[Any], k: int) -> list[str]:
    ranked = [p.turn_id for h in hits for p in h.engram.metadata.evidence if p.turn_id]
    return list(dict.fromkeys(ranked))[:k]


def engram(
    memory: EngramMemory, user: str, q: Question, now: Any, superseded: bool = True
) -> list[str]:
    hits = memory.recall(q.text, user, k=max(KS), now=now, include_superseded=superseded)
    return turn_ids(hits, max(KS))


HIDDEN = ("superseded_turns", "superseded_evidence_turns", "questions_touched")


def superseded_turns(memory: EngramMemory) -> set[str]:
    """The turns whose engrams recall hides by default (superseded by a later one)."""
    engrams = memory.store.list("base", include_superseded=True, log=False)
    return {p.turn_id for e in engrams if e.superseded_by for p in e.metadata.evidence if p.turn_id}


def set_weights(memory: EngramMemory, user: str, weights: FusionWeights) -> None:
    """Store `weights` as the user's learned ones (what `feedback` writes)."""
    store = memory.store
    setting = {(user, "fusion_weights"): weights.model_dump_json()}
    store._commit(user, store.backend.revision(user), [], [], [], setting)


def recall_at(ranked: list[str], evidence: list[str]) -> dict[int, float]:
    return {k: len(set(ranked[:k]) & set(evidence)) / len(evidence) for k in KS}


def mean(rows: list[dict[int, float]]) -> dict[str, Any]:
    if not rows:
        return {"questions": 0}
    out = {f"R@{k}": round(100 * statistics.fmean(r[k] for r in rows), 1) for k in KS}
    return out | {"questions": len(rows)}


def run(
    conversations: list[Conversation],
    encoder: CachedEncoder,
    tmp: Path,
    rules: dict[str, StoreConfig],
    config: StoreConfig,
    within_first: bool,
) -> dict[str, Any]:
    rows: dict[str, list[dict[int, float]]] = {}
    signal = {"replies": 0, "with_use": 0, "used": 0, "used_evidence": 0, "evidence_in_top": 0}
    hidden: dict[str, dict[str, int]] = {}
    weights: dict[str, Any] = {}

    tmp.mkdir(parents=True, exist_ok=True)

    def add(name: str, ranked: list[str], evidence: list[str]) -> None:
        rows.setdefault(name, []).append(recall_at(ranked, evidence))

    for n, conv in enumerate(conversations):
        turns = conv.turns
        encoder.warm([t["text"] for t in turns] + [q.text for q in conv.questions])
        memory = EngramMemory(tmp / f"{n}.db", encoder=encoder, config=config)
        now = remember_turns(memory, turns, "base")
        remember_turns(memory, turns, "observer")
        others = {
            name: EngramMemory(tmp / f"{n}-{m}.db", encoder=encoder, config=config)
            for m, (name, config) in enumerate(rules.items())
        }
        for other in others.values():
            remember_turns(other, turns, "base")
        dense = dense_system(encoder)(turns)
        first, second = halves(conv, within_first)

        # 1. observe_reply on the first half, recall measured on the second
        for q in first:
            if not q.answer.strip():
                continue
            hits = memory.recall(q.text, "observer", k=OBSERVE_K, now=now, include_superseded=True)
            use = memory.observe_reply(q.answer, "observer", hits, query=q.text)
            by_id = {h.engram.id: h for h in hits}
            signal["replies"] += 1
            signal["with_use"] += bool(use.used)
            signal["used"] += len(use.used)
            signal["used_evidence"] += sum(
                bool(set(turn_ids([by_id[i]], max(KS))) & set(q.evidence)) for i in use.used
            )
            signal["evidence_in_top"] += bool(set(turn_ids(hits, OBSERVE_K)) & set(q.evidence))
        learned = memory.store.weights("observer")
        weights[conv.name] = learned.model_dump()
        for q in second:
            add("second_half:engram", engram(memory, "base", q, now), q.evidence)
            add("second_half:engram+observe_reply", engram(memory, "observer", q, now), q.evidence)
            add("second_half:dense", dense(q.text, max(KS)), q.evidence)
        # its two parts apart: the learned weights alone, the usefulness gained alone
        set_weights(memory, "base", learned)
        set_weights(memory, "observer", memory.store.config.weights)
        for q in second:
            add("second_half:learned weights only", engram(memory, "base", q, now), q.evidence)
            add("second_half:usefulness only", engram(memory, "observer", q, now), q.evidence)
        set_weights(memory, "base", memory.store.config.weights)

        # 2. the supersede rule, over every question with evidence
        asked = first + second
        for name, mem in {"rule on": memory, **others}.items():
            gone = superseded_turns(mem)
            counts = hidden.setdefault(name, dict.fromkeys(HIDDEN, 0))
            counts["superseded_turns"] += len(gone)
            counts["superseded_evidence_turns"] += len(
                gone & {e for q in asked for e in q.evidence}
            )
            counts["questions_touched"] += sum(bool(gone & set(q.evidence)) for q in asked)
        for q in asked:
            add("all:engram include_superseded=True", engram(memory, "base", q, now), q.evidence)
            add("all:engram rule on", engram(memory, "base", q, now, False), q.evidence)
            for name, other in others.items():
                add(f"all:engram {name}", engram(other, "base", q, now, False), q.evidence)
            add("all:dense", dense(q.text, max(KS)), q.evidence)
        memory.close()
        for other in others.values():
            other.close()
    return {
        "recall": {name: mean(r) for name, r in rows.items()},
        "signal": signal,
        "supersede": hidden,
        "learned_weights": weights,
    }


def rules_of(specs: list[str]) -> dict[str, StoreConfig]:
    """`--rule NAME=JSON` specs as named store settings ("rule NAME")."""
    rules = {}
    for spec in specs:
        name, _, fields = spec.partition("=")
        rules[f"rule {name}"] = StoreConfig.model_validate_json(fields)
    return rules


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locomo", help="LoCoMo-format JSON file")
    parser.add_argument("--beam", help="BEAM-format folder")
    parser.add_argument(
        "--answers", help="JSON of answers by question text, for data without them (BEAM dev)"
    )
    parser.add_argument(
        "--rule", action="append", default=[], help="NAME=JSON: another supersede setting"
    )
    parser.add_argument("--config", default="{}", help="StoreConfig JSON of the store measured")
    parser.add_argument(
        "--within-first-half",
        action="store_true",
        help="observe the first quarter, measure the second: for choosing settings",
    )
    args = parser.parse_args(argv)
    config = StoreConfig.model_validate_json(args.config)
    how = (config, args.within_first_half)
    rules = {"rule off": RULE_OFF, **rules_of(args.rule)}
    encoder = CachedEncoder(default_encoder())
    out: dict[str, Any] = {"machine": machine(), "observe_k": OBSERVE_K, "encoder": encoder.name}
    out |= {"config": args.config, "within_first_half": args.within_first_half}
    start, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        if args.locomo:
            out["locomo"] = run(locomo.conversations(args.locomo), encoder, Path(tmp), rules, *how)
        if args.beam:
            chats = beam.conversations(args.beam)
            if args.answers:
                answers = json.loads(Path(args.answers).read_text("utf-8"))
                for q in (q for c in chats for q in c.questions if not q.answer):
                    q.answer = answers.get(q.text, "")
            out["beam"] = run(chats, encoder, Path(tmp) / "beam", rules, *how)
    out["wall_s"] = round(time.perf_counter() - start, 1)
    out["cpu_s"] = round(time.process_time() - cpu, 1)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
