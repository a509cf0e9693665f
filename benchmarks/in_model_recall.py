"""In-model recall of memorized facts, with every baseline measured in the same run.

    python benchmarks/in_model_recall.py --facts 50

Memorizes N generated facts for one user, then asks each question (verbatim and reworded) with
nothing in the context. The last line printed is one JSON object.
"""

import argparse
import contextlib
import json
import math
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fact_generator import HELD_OUT_TEXT, UNRELATED_PROMPTS, generate_facts

from engram_agents import EngramConfig, EngramLM, Fact, TrainConfig

USER = "bench-user"


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def recalled(reply: str, answer: str) -> bool:
    return normalize(answer) in normalize(reply)


def perplexity(lm: EngramLM, text: str) -> float:
    ids = torch.tensor([lm.tokenizer.encode(text)], device=lm.device)
    with torch.no_grad():
        logits = lm.model(ids).logits[0, :-1].float()
    return math.exp(torch.nn.functional.cross_entropy(logits, ids[0, 1:]).item())


def tokens_per_s(lm: EngramLM, prompts: list[str], new_tokens: int, rounds: int = 3):
    """(base, engram) generation tokens/s, each prompt timed without and with Engram in turn
    so that load on the machine hits both alike."""
    seconds, tokens = [0.0, 0.0], [0, 0]
    for _ in range(rounds):
        for p in prompts:
            for engram in (False, True):
                with contextlib.nullcontext() if engram else lm.model.disabled():
                    start = time.perf_counter()
                    reply = lm.chat(p, max_new_tokens=new_tokens)
                    seconds[engram] += time.perf_counter() - start
                tokens[engram] += len(lm.tokenizer.encode(reply, add_special_tokens=False))
    return tokens[0] / seconds[0], tokens[1] / seconds[1]


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    config = EngramConfig(
        **({"orders": tuple(args.orders)} if args.orders else {}),
        content_words=args.content_words,
    )
    storage = tempfile.mkdtemp(prefix="engram-bench-")
    lm = (
        EngramLM.from_pretrained(args.model, config=config, storage_dir=storage)
        if args.model
        else EngramLM.from_default(config=config, storage_dir=storage)
    )
    facts = generate_facts(args.facts, seed=args.seed)
    gen = dict(max_new_tokens=args.answer_tokens)

    base_unrelated = [lm.chat(p, **gen) for p in UNRELATED_PROMPTS]
    base_ppl = perplexity(lm, HELD_OUT_TEXT)
    base_answers = [lm.chat(f.question, **gen) for f in facts]

    cfg = TrainConfig(epochs=args.epochs, single_key=args.single_key)
    report = lm.memorize(
        [Fact(question=f.question, answer=f.answer) for f in facts], USER, train_config=cfg
    )
    verbatim = [lm.chat(f.question, **gen) for f in facts]
    paraphrase = [lm.chat(f.paraphrase, **gen) for f in facts]
    unrelated = [lm.chat(p, **gen) for p in UNRELATED_PROMPTS]
    ppl = perplexity(lm, HELD_OUT_TEXT)

    # Prompts the memory leaves alone (locality), so both sides generate the same tokens: a
    # memorized answer is short, and its prompt's cost would weigh on fewer tokens.
    tps_base, tps_engram = tokens_per_s(lm, UNRELATED_PROMPTS[:8], args.speed_tokens)

    examples = [
        {
            "question": f.question,
            "paraphrase": f.paraphrase,
            "answer": f.answer,
            "verbatim_reply": v,
            "paraphrase_reply": p,
        }
        for f, v, p in list(zip(facts, verbatim, paraphrase, strict=True))[:5]
    ]
    return {
        "benchmark": "in_model_recall",
        "facts": len(facts),
        "verbatim_recall": sum(map(recalled, verbatim, [f.answer for f in facts])) / len(facts),
        "paraphrase_recall": sum(map(recalled, paraphrase, [f.answer for f in facts])) / len(facts),
        "base_model_recall": sum(map(recalled, base_answers, [f.answer for f in facts]))
        / len(facts),
        "locality": sum(a == b for a, b in zip(base_unrelated, unrelated, strict=True))
        / len(UNRELATED_PROMPTS),
        "perplexity_base": base_ppl,
        "perplexity_engram": ppl,
        "perplexity_drift": abs(ppl / base_ppl - 1),
        "memorize_s_per_fact": report.seconds / len(facts),
        "memorize_steps": report.steps,
        "memorize_final_loss": report.final_loss,
        "train_config": {"epochs": cfg.epochs, "single_key": cfg.single_key},
        "rows_written_per_layer": report.rows_written,
        "tokens_per_s_base": tps_base,
        "tokens_per_s_engram": tps_engram,
        "engram_overhead": 1 - tps_engram / tps_base,
        "config": lm.config.model_dump(mode="json"),
        "model": str(lm.model.base.config._name_or_path),
        "device": str(lm.device)
        + (f" ({torch.cuda.get_device_name()})" if lm.device.type == "cuda" else ""),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, torch threads "
        f"{torch.get_num_threads()}, {platform.processor() or platform.platform()}",
        "examples": examples,
    }


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facts", type=int, default=50)
    parser.add_argument("--model", help="a local model folder (default: the embedded model)")
    parser.add_argument("--orders", type=int, nargs="+", help="N-gram orders (default: config)")
    parser.add_argument(
        "--no-content-words",
        dest="content_words",
        action="store_false",
        help="no order-1 keys on rare content words (EngramConfig.content_words=False)",
    )
    parser.add_argument("--epochs", type=float, default=TrainConfig().epochs)
    parser.add_argument(
        "--single-key",
        type=float,
        default=TrainConfig().single_key,
        help="share of training examples answered from one written key alone",
    )
    parser.add_argument("--answer-tokens", type=int, default=24)
    parser.add_argument("--speed-tokens", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    print(json.dumps(run(arguments().parse_args(argv))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
