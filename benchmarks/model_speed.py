"""EngramLM's speed on one device, each figure beside a baseline from the same run: memorize
seconds per fact, Triton vs PyTorch-reference logits, decode tokens/s with Engram off, on, and
keyed, prefill tokens/s with the tables in device vs pinned host memory. `gpu_check.py` runs
these as its model sections; run alone, it measures a local model folder:

    python benchmarks/model_speed.py --model /path/to/hf-model    # CUDA when present
"""

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Plan:
    """The sizes of one run: `FULL` on a GPU, `SMOKE` on a CPU in seconds."""

    facts: int = 50
    warmup_facts: int = 2
    compare_shape: tuple[int, int] = (8, 128)
    decode_batches: tuple[int, ...] = (1, 16)
    decode_prompt: int = 64
    decode_tokens: int = 64
    prefill_shape: tuple[int, int] = (64, 256)
    reps: int = 5
    rounds: int = 2
    recall_facts: int = 50
    demo_seconds: int = 180


FULL = Plan()
SMOKE = Plan(
    facts=3, warmup_facts=1, compare_shape=(2, 16), decode_batches=(1, 2), decode_prompt=8,
    decode_tokens=3, prefill_shape=(2, 16), reps=1, rounds=1, recall_facts=2, demo_seconds=60,
)  # fmt: skip


class Clock:
    """Wall-clock seconds of GPU work: synchronize before reading the time."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()


# -- the model's inputs --------------------------------------------------------------------------
def fact_stream(lm, facts) -> Tensor:
    """Every fact's question and answer as one token stream (memory fires on it)."""
    text = " ".join(f"{f.question} {f.answer}" for f in facts)
    return torch.tensor(lm.tokenizer.encode(text, add_special_tokens=False))


def windows(stream: Tensor, batch: int, length: int, device: torch.device) -> Tensor:
    """[batch, length] windows of the stream, each starting elsewhere (tiled when short)."""
    reps = (length + batch * 7) // len(stream) + 2
    tiled = stream.repeat(reps)
    return torch.stack([tiled[i * 7 : i * 7 + length] for i in range(batch)]).to(device)


def memorize_section(lm, facts, warmup, train_config) -> dict:
    """Seconds per fact for `facts`, after a short warm-up (Triton compiles on first use)."""
    from engram_agents import Fact

    def as_facts(items):
        return [Fact(question=f.question, answer=f.answer) for f in items]

    lm.memorize(as_facts(warmup), "gpu-check-warmup", train_config=train_config)
    report = lm.memorize(as_facts(facts), "gpu-check", train_config=train_config)
    return {
        "facts": len(facts),
        "seconds": round(report.seconds, 3),
        "s_per_fact": round(report.seconds / len(facts), 4),
        "steps": report.steps,
        "final_loss": round(report.final_loss, 4),
    }


@torch.inference_mode()
def logits_section(lm, x: Tensor) -> dict:
    """Triton path vs PyTorch references on the same inputs (every token keyed)."""
    from engram_kernels import reference_ops
    from engram_kernels.dispatch import use_triton

    model = lm.model
    triton = model(x).logits.float()
    with reference_ops():
        reference = model(x).logits.float()
    with model.disabled():
        base = model(x).logits.float()
    diff = (triton - reference).abs()
    return {
        "shape": list(x.shape),
        "triton_path": use_triton(x),
        "max_abs_diff": diff.max().item(),
        "mean_abs_diff": diff.mean().item(),
        "max_abs_logit": reference.abs().max().item(),
        "engram_effect_max_abs": (reference - base).abs().max().item(),
        "argmax_agreement": (triton.argmax(-1) == reference.argmax(-1)).float().mean().item(),
    }


@torch.inference_mode()
def decode_rate(model, prompts: Tensor, new_tokens: int, keyed: bool, clock: Clock) -> float:
    """Greedy tokens/s over the KV cache after a keyed prompt; generated tokens are keyed only
    when `keyed` (generate() never keys them: the common case)."""
    from engram_agents.model.kv_cache import cache_of, with_cache

    state = model.new_state(prompts.shape[0])
    out = model(prompts, torch.ones_like(prompts), state, use_cache=True)
    tok = out.logits[:, -1].argmax(-1, keepdim=True)
    start = clock.now()
    for _ in range(new_tokens):
        mask = torch.ones_like(tok) if keyed else torch.zeros_like(tok)
        out = model(tok, mask, state, **with_cache(model.base, cache_of(out)))
        tok = out.logits[:, -1].argmax(-1, keepdim=True)
    return prompts.shape[0] * new_tokens / (clock.now() - start)


def decode_section(lm, stream: Tensor, plan: Plan, clock: Clock) -> dict:
    """Tokens/s without Engram and with it (generated tokens unkeyed, and keyed), the variants
    taking turns in each round so that load hits them alike; the best round counts."""
    variants = {"off": (False, False), "engram": (True, False), "engram_keyed": (True, True)}
    rows = []
    for batch in plan.decode_batches:
        prompts = windows(stream, batch, plan.decode_prompt, lm.device)
        best = dict.fromkeys(variants, 0.0)
        for _ in range(plan.rounds):
            for name, (engram, keyed) in variants.items():
                with nullcontext() if engram else lm.model.disabled():
                    rate = decode_rate(lm.model, prompts, plan.decode_tokens, keyed, clock)
                best[name] = max(best[name], rate)
        row = {"batch": batch, **{f"tokens_per_s_{k}": round(v, 1) for k, v in best.items()}}
        row["engram_slowdown"] = round(1 - best["engram"] / best["off"], 4)
        row["engram_keyed_slowdown"] = round(1 - best["engram_keyed"] / best["off"], 4)
        rows.append(row)
    return {"prompt_tokens": plan.decode_prompt, "new_tokens": plan.decode_tokens, "rows": rows}


@torch.inference_mode()
def prefill_rate(model, x: Tensor, reps: int, clock: Clock) -> float:
    model(x)  # warm-up (and Triton compiles)
    times = []
    for _ in range(reps):
        start = clock.now()
        model(x)
        times.append(clock.now() - start)
    return x.numel() / statistics.median(times)


def prefill_section(lm, stream: Tensor, plan: Plan, clock: Clock) -> dict:
    """Prefill tokens/s with the tables in device memory, then in pinned host memory."""
    x = windows(stream, *plan.prefill_shape, lm.device)
    device_rate = prefill_rate(lm.model, x, plan.reps, clock)
    lm.model.place_tables("host")
    try:
        host_rate = prefill_rate(lm.model, x, plan.reps, clock)
    finally:
        lm.model.place_tables("device")
    return {
        "shape": list(x.shape),
        "table_rows_per_layer": lm.model.total_rows,
        "tokens_per_s_device_tables": round(device_rate, 1),
        "tokens_per_s_host_tables": round(host_rate, 1),
        "host_tables_loss": round(1 - host_rate / device_rate, 4),
    }


def measure(lm, plan: Plan, train_config, section: Callable[[str, Callable[[], dict]], object]):
    """The four measurements on `lm`, each run through `section(name, fn)` (gpu_check.py's
    keeps going past a failing one and saves after each)."""
    from fact_generator import generate_facts

    facts = generate_facts(plan.facts + plan.warmup_facts, seed=0)
    warmup, measured = facts[: plan.warmup_facts], facts[plan.warmup_facts :]
    stream = fact_stream(lm, facts)
    clock = Clock(lm.device)
    compare = windows(stream, *plan.compare_shape, lm.device)
    section("memorize", lambda: memorize_section(lm, measured, warmup, train_config))
    section("logits", lambda: logits_section(lm, compare))
    section("decode", lambda: decode_section(lm, stream, plan, clock))
    section("prefill", lambda: prefill_section(lm, stream, plan, clock))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a local Hugging Face model folder")
    args = parser.parse_args(argv)
    from engram_agents import EngramLM, TrainConfig

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory() as storage:
        lm = EngramLM.from_pretrained(args.model, storage_dir=storage, device=device)
        out: dict = {"benchmark": "model_speed", "model": args.model, "device": str(device)}
        if device.type == "cuda":
            out["device"] = torch.cuda.get_device_name()
        measure(lm, FULL, TrainConfig(), lambda name, fn: out.__setitem__(name, fn()))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
