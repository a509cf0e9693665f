"""The GPU path, measured in one run: kernels, EngramLM on CUDA in bf16, and (with the real
model) in-model recall and the calendar demo. Every figure is compared to a baseline measured in
the same run; the JSON file is rewritten after each section, so a run cut short keeps what it had.

    python benchmarks/gpu_check.py --out gpu_check.json      # on a CUDA machine, ~8 minutes
    python benchmarks/gpu_check.py --smoke --out smoke.json  # every code path, CPU, tiny shapes

Without the embedded model (its GGUF) the model figures use a model of SmolLM2-135M's shape with
random weights (the JSON's model.kind says which); `benchmarks/gpu_bundle.sh` packs what a bare
GPU machine needs (docs/kernels.md).
"""

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import model_speed
import torch
from model_speed import FULL, SMOKE, Plan

ROOT = Path(__file__).resolve().parents[1]
BUNDLE_TOKENIZER = ROOT / ".gpu_bundle" / "tokenizer"
# SmolLM2-135M-Instruct's shape (the embedded model's config.json)
SMOLLM2_135M = dict(
    vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
    num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
    rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True,
    bos_token_id=1, eos_token_id=2, pad_token_id=2,
)  # fmt: skip
TINY = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
    num_key_value_heads=2, bos_token_id=1, eos_token_id=2, pad_token_id=2,
)  # fmt: skip


# -- environment and model ---------------------------------------------------------------------
def environment() -> dict:
    import transformers

    import engram_agents

    cuda = torch.cuda.is_available()
    triton = importlib.util.find_spec("triton")
    return {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "torch": torch.__version__,
        "triton": __import__("triton").__version__ if triton else None,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.platform()}",
        "engram_agents_from": str(Path(engram_agents.__file__).parent),
    }


def real_model_dir(explicit: str | None) -> Path | None:
    """The real model's folder: --model, else the embedded GGUF (converted once) if installed."""
    if explicit:
        return Path(explicit)
    from engram_agents.errors import ModelNotFoundError
    from engram_agents.model.loading import default_model_dir

    try:
        return default_model_dir()
    except ModelNotFoundError:
        return None


def tokenizer_dir(explicit: str | None, model_dir: Path | None) -> Path:
    if explicit:
        return Path(explicit)
    if model_dir is not None:
        return model_dir
    if BUNDLE_TOKENIZER.exists():
        return BUNDLE_TOKENIZER
    from engram_agents.model.loading import default_model_dir

    return default_model_dir()


def random_model_dir(shape: dict, tokenizer_path: Path, out: Path) -> Path:
    """A Llama of the given shape with random weights, saved beside the tokenizer (bf16)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_path, local_files_only=True)
    config = LlamaConfig(**{"vocab_size": len(tok), **shape})
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def load_lm(model_dir: Path, engram_config, storage: Path, device: torch.device):
    from engram_agents import EngramLM

    return EngramLM.from_pretrained(
        model_dir, config=engram_config, storage_dir=storage, device=device
    )


# -- sections ------------------------------------------------------------------------------------
def kernels_section(sizes_name: str, smoke: bool) -> dict:
    """benchmarks/kernel_speed.py at the issue's shapes (`Sizes()`), or SMOKE on the CPU."""
    if importlib.util.find_spec("triton") is None:
        return {"skipped": "triton is not installed"}
    import kernel_speed

    if smoke:
        report = kernel_speed.run(once_ms, kernel_speed.SMOKE, "cpu", "cpu (interpreter)")
    else:
        sizes = {"full": kernel_speed.Sizes(), "quick": kernel_speed.QUICK}[sizes_name]
        torch.manual_seed(0)
        report = kernel_speed.run(kernel_speed.median_ms, sizes, "cuda", environment()["device"])
    return {"sizes": sizes_name, "copy_GBps": round(report.copy_gbps, 1), "results": report.results}


def store_dense_section(smoke: bool) -> dict:
    """Recall's dense stage in a large scope (`ScopeIndex.dense_top`: every vector scanned under
    the recall's mask) at 1e5 and 1e6 engrams of 384 dims: numpy on the CPU against the fp16
    device copy ranked by `masked_topk` (StoreConfig.search_device), on one index, same queries.
    The smoke run takes the device path on CPU tensors (the kernel's reference)."""
    import numpy as np

    from engram_agents.store.device_search import DeviceVectors
    from engram_agents.store.index import ScopeIndex
    from engram_agents.store.rows import EngramRow

    device = torch.device("cpu" if smoke else "cuda")
    dim, reps = 384, (2 if smoke else 30)
    rows = []
    for n in (2_000,) if smoke else (100_000, 1_000_000):
        rng = np.random.default_rng(0)
        vectors = rng.standard_normal((n, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index = ScopeIndex(dim)
        index.upsert(
            [
                EngramRow(f"e{i}", "u", None, None, "long", True, 0.0, i, [], vectors[i], b"")
                for i in range(n)
            ]
        )
        queries = rng.standard_normal((reps, dim)).astype(np.float32)
        on_device = DeviceVectors(device)
        start = time.perf_counter()
        on_device.sync(index.vectors, n)
        if device.type == "cuda":
            torch.cuda.synchronize()
        upload_ms = (time.perf_counter() - start) * 1e3
        for share, top_n in ((1.0, 5), (1.0, 50), (0.05, 5)):
            mask = rng.random(n) < share
            timed = {}
            for name, copy in (("numpy", None), ("device", on_device)):
                index.on_device = copy
                timed[name] = dense_top_ms(index, queries, top_n, mask)
            pairs = zip(timed["numpy"][2], timed["device"][2], strict=True)
            agree = [len(a & b) / top_n for a, b in pairs]
            rows.append(
                {
                    "N": n, "dim": dim, "mask_share": share, "n": top_n, "queries": reps,
                    "numpy_ms": round(timed["numpy"][0], 3),
                    "numpy_cpu_ms": round(timed["numpy"][1], 3),
                    "device_ms": round(timed["device"][0], 3),
                    "device_cpu_ms": round(timed["device"][1], 3),
                    "speedup": round(timed["numpy"][0] / timed["device"][0], 2),
                    "same_top_share": round(float(np.mean(agree)), 4),
                    "upload_ms": round(upload_ms, 1),
                }
            )  # fmt: skip
        del index, on_device
    return {"device": str(device), "rows": rows}


def dense_top_ms(index, queries, top_n: int, mask) -> tuple[float, float, list[set[int]]]:
    """Wall and thread-CPU ms per `dense_top` over the queries (after one warm-up call: the
    kernel's compile), and the rows each found."""
    index.dense_top(queries[0], top_n, mask)
    wall, cpu = time.perf_counter(), time.thread_time()
    found = [set(index.dense_top(q, top_n, mask).tolist()) for q in queries]
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    return wall / len(queries) * 1e3, cpu / len(queries) * 1e3, found


def once_ms(fn: Callable[[], object]) -> float:
    """The smoke timer: run once, report 1 ms (no timing on the CPU)."""
    fn()
    return 1.0


def recall_section(model_dir: Path, plan: Plan, smoke: bool) -> dict:
    """benchmarks/in_model_recall.py at `recall_facts` facts on this device."""
    import in_model_recall

    argv = ["--facts", str(plan.recall_facts), "--model", str(model_dir)]
    if smoke:
        argv += ["--epochs", "0.5", "--answer-tokens", "2", "--speed-tokens", "2"]
    result = in_model_recall.run(in_model_recall.arguments().parse_args(argv))
    result.pop("examples", None)
    return result


def demo_section(model_dir: Path, plan: Plan, smoke: bool, out_dir: Path) -> dict:
    """`engram-agents demo calendar --mode rag hybrid` in a subprocess under a time cap. The
    smoke run only parses that command line (`--help`): the demo itself takes a minute on a
    CPU, and tests/demo runs it."""
    exe = shutil.which("engram-agents")
    if exe is None or importlib.util.find_spec("engram_agents_demo") is None:
        return {"skipped": "the engram-agents command or engram-agents-demo is not installed"}
    cmd = [exe, "demo", "calendar", "--mode", "rag", "hybrid", "--json"]
    cmd += ["--model", str(model_dir), "--out", str(out_dir)] + (["--help"] if smoke else [])
    start = time.perf_counter()
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=plan.demo_seconds, cwd=out_dir
        )
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"the demo ran past its cap of {plan.demo_seconds} s") from e
    if done.returncode != 0:
        raise RuntimeError(f"the demo exited {done.returncode}: {done.stderr[-2000:]}")
    lines = done.stdout.strip().splitlines()
    return {
        "command": cmd[1:],
        "returncode": done.returncode,
        "seconds": round(time.perf_counter() - start, 1),
        "result": None if smoke else json.loads(lines[-1]),
    }


# -- the run -------------------------------------------------------------------------------------
class Results(dict):
    """The run's JSON, rewritten after every section; a failing section records its error."""

    def __init__(self, path: Path, **head) -> None:
        super().__init__(check="gpu_check", **head)
        self.path = path
        self.failed: list[str] = []

    def section(self, name: str, fn: Callable[[], dict]) -> dict | None:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        try:
            self[name] = fn()
        except Exception as e:  # keep measuring: the lease is short, a rerun is costly
            traceback.print_exc()
            self[name] = {"error": f"{type(e).__name__}: {e}"}
            self.failed.append(name)
        self[name]["section_seconds"] = round(time.perf_counter() - start, 1)
        self.save()
        return self[name]

    def save(self) -> None:
        self.path.write_text(json.dumps(self, indent=2, default=str))


def table(results: dict) -> str:
    """A short table of the headline figures beside the issue's bars."""

    def get(section: str, key: str):
        return results.get(section, {}).get(key, "—")

    def kernel(op: str, key: str, **shape) -> object:
        rows = results.get("kernels", {}).get("results", [])
        match = (r for r in rows if r["op"] == op and shape.items() <= r.items())
        return next(match, {}).get(key, "—")

    def store_dense(n: int) -> str:
        rows = results.get("store_dense", {}).get("rows", [])
        match = (r for r in rows if r["N"] == n and r["mask_share"] == 1.0 and r["n"] == 5)
        row = next(match, None)
        return f"{row['numpy_ms']} / {row['device_ms']}" if row else "—"

    lines = [
        ("model", get("model", "kind")),
        ("device", results["device"]),
        ("lookup fwd speed-up (bar 30x)", kernel("hash_lookup_forward", "speedup")),
        ("lookup fwd copy fraction (bar 0.60)", kernel("hash_lookup_forward", "copy_fraction")),
        ("Engram block speed-up (bar 5x)", kernel("engram_block_forward", "speedup")),
        ("top-k 1e6, 5%, 1 query, ms (bar 0.1)",
         kernel("masked_topk", "ms", N=1_000_000, fraction=0.05, form="ids")),
        ("store dense top 1e6, all, n=5: ms numpy / cuda", store_dense(1_000_000)),
        ("logits max |triton - torch|", get("logits", "max_abs_diff")),
        ("logits max |logit|", get("logits", "max_abs_logit")),
    ]  # fmt: skip
    for r in results.get("decode", {}).get("rows", []):
        rates = f"{r['tokens_per_s_off']} / {r['tokens_per_s_engram']}"
        lines.append((f"decode b={r['batch']} tok/s off / engram", rates))
        lines.append((f"decode b={r['batch']} Engram slowdown (bar 5%)", r["engram_slowdown"]))
    lines += [
        ("prefill host-table loss (bar 5%)", get("prefill", "host_tables_loss")),
        ("memorize s/fact (bar: CPU's / 10)", get("memorize", "s_per_fact")),
        ("recall verbatim", get("in_model_recall", "verbatim_recall")),
        ("recall paraphrase", get("in_model_recall", "paraphrase_recall")),
        ("demo seconds", get("demo", "seconds")),
        ("failed sections", ", ".join(results["failed_sections"]) or "none"),
    ]
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny shapes, every code path")
    parser.add_argument("--out", default="gpu_check.json", help="the JSON file to write")
    parser.add_argument("--model", help="a local model folder (default: the embedded model)")
    parser.add_argument("--tokenizer", help="tokenizer folder for the random-weight model")
    parser.add_argument("--kernels", choices=["full", "quick", "off"], default="full")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo subprocess")
    args = parser.parse_args(argv)
    if args.smoke:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # read when the kernels are imported
    elif not torch.cuda.is_available():
        sys.exit("gpu_check.py needs a CUDA GPU (or --smoke to run its code paths on the CPU)")
    return run(args)


def run(args: argparse.Namespace) -> int:
    plan = SMOKE if args.smoke else FULL
    device = torch.device("cpu" if args.smoke else "cuda")
    started = time.perf_counter()
    results = Results(Path(args.out), smoke=args.smoke, **environment())
    if args.kernels != "off":
        results.section("kernels", lambda: kernels_section(args.kernels, args.smoke))
        if device.type == "cuda":
            torch.cuda.empty_cache()  # the kernel benchmark's tables were tens of GB
    results.section("store_dense", lambda: store_dense_section(args.smoke))
    if device.type == "cuda":
        torch.cuda.empty_cache()

    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    real = None if args.smoke else real_model_dir(args.model)
    if real is not None:
        model_dir, kind = real, f"real weights: {real.name}"
    else:
        shape, kind = (
            (TINY, "tiny random Llama (smoke)")
            if args.smoke
            else (SMOLLM2_135M, "random weights, SmolLM2-135M shape (no GGUF here)")
        )
        model_dir = random_model_dir(shape, tokenizer_dir(args.tokenizer, None), work / "model")
    model_sections(results, model_dir, kind, real is not None, plan, device, work)
    if real is not None or args.smoke:
        results.section("in_model_recall", lambda: recall_section(model_dir, plan, args.smoke))
        if not args.no_demo:
            results.section("demo", lambda: demo_section(model_dir, plan, args.smoke, work))
    else:
        results["in_model_recall"] = results["demo"] = {"skipped": "the real model is not here"}
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["failed_sections"] = results.failed
    results.save()
    print(table(results))
    print(json.dumps({"out": str(results.path), "failed_sections": results.failed}))
    return 1 if results.failed else 0


def model_sections(
    results: Results, model_dir: Path, kind: str, real: bool, plan: Plan, device, work: Path
) -> None:
    """Memorize, logits, decode and prefill on one EngramLM (freed when this returns)."""
    from engram_agents import EngramConfig, TrainConfig

    smoke = device.type == "cpu"
    config = (
        EngramConfig(rows_per_head=4099, heads_per_order=2, head_dim=8, layers=(1, 2))
        if smoke
        else EngramConfig()
    )
    train_config = TrainConfig(epochs=1, min_steps=1) if smoke else TrainConfig()
    lm = load_lm(model_dir, config, work / "users", device)
    results["model"] = {
        "kind": kind,
        "path": str(model_dir),
        "real_weights": real,
        "dtype": str(next(lm.model.base.parameters()).dtype),
        "parameters": sum(p.numel() for p in lm.model.base.parameters()),
        "engram_config": config.model_dump(mode="json"),
    }
    model_speed.measure(lm, plan, train_config, results.section)


if __name__ == "__main__":
    raise SystemExit(main())
