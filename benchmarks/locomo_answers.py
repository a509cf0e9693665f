"""Answers to LoCoMo questions from recalled memories, with and without decoding toward them.

    python benchmarks/locomo_answers.py benchmarks/data/locomo_dev_a.json --weights 0 0.5 1

A held-out check of ChatEngram's `memory_weight`, whose default was picked on the demo
scenarios: each conversation is remembered as in `engram-agents bench locomo`, each question
(categories 1-4; adversarial ones have no answer) recalls the top k engrams, which go into the
system prompt as a recalled part, as the LangChain middleware gives them to a ChatEngram, and
the model answers once per weight with the same prompt. Weight 0 is plain decoding, the
baseline. Scored by LoCoMo's token F1 against the gold answer and by the share of the gold
answer's words the reply contains (the 135M model's replies are long, which F1 penalizes the
same at every weight). Nothing is memorized into the tables, so `tables_weight` is not checked
here. The last line printed is one JSON object.
"""

import argparse
import json
import re
import string
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from statistics import fmean

import torch

from engram_agents import EngramLM
from engram_agents.memory import EngramMemory
from engram_agents.memory_context import before_block, format_memories
from engram_agents.store.encoders import default_encoder
from engram_agents_demo.bench.locomo import CATEGORIES, load, turns_of
from engram_agents_demo.bench.recall import machine, remember_turns

HEADER = "What they said in earlier conversations (most relevant last):"
ARTICLES = re.compile(r"\b(a|an|the|and)\b")


def words(text: str) -> list[str]:
    """LoCoMo's answer normalization: lower case, no punctuation, articles or extra spaces."""
    text = "".join(c for c in str(text).lower() if c not in string.punctuation)
    return ARTICLES.sub(" ", text).split()


def f1(reply: str, gold: str) -> float:
    said, wanted = words(reply), words(gold)
    common = sum((Counter(said) & Counter(wanted)).values())
    if not common:
        return 0.0
    precision, recall = common / len(said), common / len(wanted)
    return 2 * precision * recall / (precision + recall)


def gold_recall(reply: str, gold: str) -> float:
    wanted = set(words(gold))
    return len(wanted & set(words(reply))) / len(wanted) if wanted else 0.0


def chat_for(speakers: str, question: str, block: str) -> list[dict]:
    system = f"You answer questions about the conversations of {speakers}. Answer briefly."
    parts = [before_block(system), {"text": block, "recalled": True}]
    return [{"role": "system", "content": parts}, {"role": "user", "content": question}]


def run(
    lm: EngramLM, path: str, weights: list[float], k: int, max_new_tokens: int, log=None
) -> dict:
    """Scores per weight; `log` (a text file) gets one JSON line per question and weight."""
    scores: dict[float, dict[str, list[float]]] = {w: {"f1": [], "gold": []} for w in weights}
    by_category: dict[float, dict[str, list[float]]] = {w: {} for w in weights}
    seconds = dict.fromkeys(weights, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        for n, conversation in enumerate(load(path)):
            memory = EngramMemory(Path(tmp) / f"c{n}.db", encoder=default_encoder())
            turns = turns_of(conversation)
            now = remember_turns(memory, turns, f"conv-{n}")
            c = conversation["conversation"]
            speakers = f"{c.get('speaker_a', 'A')} and {c.get('speaker_b', 'B')}"
            for qa in conversation["qa"]:
                category = CATEGORIES.get(qa.get("category"), "other")
                if category == "adversarial" or "answer" not in qa:
                    continue
                hits = memory.recall(qa["question"], f"conv-{n}", k, now=now)
                chat = chat_for(speakers, qa["question"], format_memories(hits, header=HEADER))
                for w in weights:
                    start = time.perf_counter()
                    reply = lm.chat(chat, max_new_tokens=max_new_tokens, memory_weight=w)
                    seconds[w] += time.perf_counter() - start
                    score = f1(reply, qa["answer"])
                    scores[w]["f1"].append(score)
                    scores[w]["gold"].append(gold_recall(reply, qa["answer"]))
                    by_category[w].setdefault(category, []).append(score)
                    if log:
                        line = {"question": qa["question"], "answer": qa["answer"], "weight": w}
                        log.write(json.dumps({**line, "reply": reply, "f1": score}) + "\n")
            memory.close()
    base = weights[0]
    base_f1 = fmean(scores[base]["f1"])
    out = {}
    for w in weights:
        mean_f1, mean_gold = fmean(scores[w]["f1"]), fmean(scores[w]["gold"])
        out[str(w)] = {
            "f1": round(100 * mean_f1, 2),
            "gold_word_recall": round(100 * mean_gold, 2),
            "f1_ratio_to_baseline": round(mean_f1 / base_f1, 3) if base_f1 else None,
            "f1_by_category": {c: round(100 * fmean(v), 2) for c, v in by_category[w].items()},
            "s_per_answer": round(seconds[w] / len(scores[w]["f1"]), 2),
        }
    return {"file": Path(path).name, "questions": len(scores[base]["f1"]), "weights": out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", help="LoCoMo-format JSON files")
    parser.add_argument("--weights", nargs="+", type=float, default=[0.0, 0.5, 1.0])
    parser.add_argument("--k", type=int, default=5, help="memories recalled per question")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--model", help="a local model folder (default: the embedded model)")
    parser.add_argument("--replies", type=Path, help="write every reply to this JSONL file")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as storage:
        if args.model:
            lm = EngramLM.from_pretrained(args.model, storage_dir=storage)
        else:
            lm = EngramLM.from_default(storage_dir=storage)
        with open(args.replies or "/dev/null", "w") as log:
            results = [
                run(lm, f, args.weights, args.k, args.max_new_tokens, log) for f in args.files
            ]
    print(json.dumps({"baseline": f"memory_weight {args.weights[0]}", "machine": machine(),
                      "files": results}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
