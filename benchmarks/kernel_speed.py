"""GPU benchmark for engram-kernels: every Triton kernel against its PyTorch reference, same run.

Times are `triton.testing.do_bench` medians in ms. For each op: the Triton time, the reference
time, the speed-up, the bytes the op must move divided by the Triton time (GB/s), and that as a
fraction of this device's measured copy bandwidth. Prints one line per measurement and, last, one
JSON object with the device name. Needs a CUDA GPU; CPU correctness lives in tests/kernels.

    python benchmarks/kernel_speed.py            # the issue's shapes
    python benchmarks/kernel_speed.py --quick    # one size per op
"""

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

from engram_kernels.gate import GateWeights, engram_gate_reference, rms_norm
from engram_kernels.host_tables import HostTable
from engram_kernels.lookup import engram_hash_lookup_reference, engram_lookup_reference
from engram_kernels.ngram_hash import HashConfig, NGramKeys, ngram_hash_reference
from engram_kernels.topk import masked_topk_reference

Bench = Callable[[Callable[[], object]], float]


@dataclass
class Sizes:
    """Shapes of one run; `full` is the issue's, `quick` one point each, `smoke` CPU-tiny."""

    batch: int = 8
    length: int = 2048
    orders: tuple[int, ...] = (2, 3)
    heads: int = 8
    head_dim: int = 64
    log_rows: tuple[int, ...] = (20, 22, 24, 26)
    hidden: int = 1024
    topk_n: tuple[int, ...] = (100_000, 1_000_000, 4_000_000)
    topk_dim: int = 384
    topk_fractions: tuple[float, ...] = (0.01, 0.05, 0.25, 1.0)
    topk_k: int = 10
    host_batch: int = 64
    host_length: int = 256
    host_log_rows: int = 24
    filler_layers: int = 4
    copy_bytes: int = 1 << 30
    table_dtype: torch.dtype = torch.float32


QUICK = Sizes(log_rows=(22,), topk_n=(1_000_000,), topk_fractions=(0.05, 1.0))
SMOKE = Sizes(
    batch=2, length=70, heads=2, head_dim=8, log_rows=(9,), hidden=40, topk_n=(300,),
    topk_dim=40, topk_fractions=(0.05,), topk_k=5, host_batch=2, host_length=9,
    host_log_rows=8, filler_layers=1, copy_bytes=1 << 16,
)  # fmt: skip


@dataclass
class Report:
    device: str
    copy_gbps: float
    results: list[dict] = field(default_factory=list)

    def add(self, op: str, shape: dict, ms: float, ref_ms: float, nbytes: int | None) -> None:
        row = {"op": op, **shape, "ms": round(ms, 4), "reference_ms": round(ref_ms, 4)}
        row["speedup"] = round(ref_ms / ms, 2)
        if nbytes is not None:
            gbps = nbytes / ms / 1e6
            row |= {"GBps": round(gbps, 1), "copy_fraction": round(gbps / self.copy_gbps, 3)}
        self.results.append(row)
        print(json.dumps(row), flush=True)


def prev_primes(below: int, count: int) -> list[int]:
    """The `count` largest primes below `below` (distinct prime head sizes, as the paper)."""
    primes, n = [], below - 1
    while len(primes) < count:
        if n > 1 and all(n % p for p in range(2, math.isqrt(n) + 1)):
            primes.append(n)
        n -= 1
    return primes


def addressing(sizes: Sizes, log_rows: int, batch: int, length: int, device: str) -> dict:
    """Random compressed ids (20% unkeyed) and a table of 2^log_rows rows split over the heads."""
    n_orders = len(sizes.orders)
    heads = n_orders * sizes.heads
    primes = torch.tensor(prev_primes((1 << log_rows) // heads, heads), device=device)
    offsets = primes.cumsum(0) - primes
    ids = torch.randint(1, 49_152, (batch, length), device=device)
    ids *= torch.rand(batch, length, device=device) < 0.8
    max_order = max(sizes.orders)
    hashing = HashConfig(
        orders=sizes.orders,
        multipliers=torch.randint(1, 2**62, (max_order,), device=device) | 1,
        fingerprint_multipliers=torch.randint(1, 2**62, (max_order,), device=device) | 1,
        head_sizes=primes.view(n_orders, sizes.heads),
        head_offsets=offsets.view(n_orders, sizes.heads),
    )
    return {
        "ids": ids,
        "history": torch.zeros(batch, max_order - 1, dtype=torch.long, device=device),
        "hashing": hashing,
    }


def written_table(sizes: Sizes, addr: dict, device: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A table whose tags hold every N-gram of the batch, so lookups hit as after memorize."""
    rows, fps = ngram_hash_reference(**addr)
    total = int((addr["hashing"].head_sizes + addr["hashing"].head_offsets).max())
    table = torch.randn(total, sizes.head_dim, device=device, dtype=sizes.table_dtype)
    tags = torch.zeros(total, dtype=torch.long, device=device)
    tags[rows] = fps.repeat_interleave(sizes.heads, dim=-1)
    return table, tags, rows, fps


def lookup_bytes(table: Tensor, tags: Tensor, rows: Tensor, fps: Tensor, ids: Tensor) -> int:
    """The floor: read ids, one tag per head lookup and every hit row; write the output."""
    hits = int((tags[rows] == fps.repeat_interleave(rows.shape[-1] // fps.shape[-1], -1)).sum())
    row_bytes = table.shape[1] * table.element_size()
    return ids.numel() * 8 + rows.numel() * (8 + row_bytes) + hits * row_bytes


def bench_lookup(report: Report, bench: Bench, sizes: Sizes, device: str, log_rows: int) -> None:
    from engram_kernels.hash_triton import ngram_hash_triton
    from engram_kernels.lookup_triton import engram_hash_lookup_triton, engram_lookup_triton

    addr = addressing(sizes, log_rows, sizes.batch, sizes.length, device)
    table, tags, rows, fps = written_table(sizes, addr, device)
    shape = {"B": sizes.batch, "T": sizes.length, "heads": rows.shape[-1], "rows": table.shape[0]}
    nbytes = lookup_bytes(table, tags, rows, fps, addr["ids"])
    hash_bytes = addr["ids"].numel() * 8 + rows.numel() * 8 + fps.numel() * 8
    report.add(
        "ngram_hash", shape, bench(lambda: ngram_hash_triton(**addr)),
        bench(lambda: ngram_hash_reference(**addr)), hash_bytes,
    )  # fmt: skip
    report.add(
        "lookup", shape, bench(lambda: engram_lookup_triton(table, tags, rows, fps)),
        bench(lambda: engram_lookup_reference(table, tags, rows, fps)), nbytes,
    )  # fmt: skip
    report.add(
        "hash_lookup_forward", shape,
        bench(lambda: engram_hash_lookup_triton(table, tags, NGramKeys(**addr))),
        bench(lambda: engram_hash_lookup_reference(table, tags, NGramKeys(**addr))), nbytes,
    )  # fmt: skip
    leaf = table.detach().requires_grad_()

    def train_step(fn: Callable[..., Tensor]) -> Callable[[], object]:
        return lambda: torch.autograd.grad(fn(leaf, tags, NGramKeys(**addr)).sum(), leaf)

    report.add(
        "hash_lookup_forward_backward", shape,
        bench(train_step(engram_hash_lookup_triton)),
        bench(train_step(engram_hash_lookup_reference)), None,
    )  # fmt: skip


@dataclass
class Block:
    """The parameters of one Engram block (lookup, key/value projections, gate, short conv)."""

    key: Tensor
    value: Tensor
    norms: Tensor
    bias: Tensor
    conv: Tensor

    @classmethod
    def random(cls, in_dim: int, hidden: int, device: str) -> "Block":
        def w(*shape: int) -> Tensor:
            return torch.randn(*shape, device=device) / math.sqrt(shape[-1])

        norms = torch.ones(3, hidden, device=device)
        return cls(w(hidden, in_dim), w(hidden, in_dim), norms, torch.zeros((), device=device),
                   w(hidden, 1, 4))  # fmt: skip

    def forward(self, lookup: Callable, gate: Callable, hidden: Tensor, dilation: int) -> Tensor:
        """As engram_agents.model.layer.EngramLayer.forward, with the ops passed in."""
        mem = lookup().float()
        weights = GateWeights(self.norms[0], self.norms[1], self.bias)
        gated = gate(hidden, F.linear(mem, self.key), F.linear(mem, self.value), weights)
        x = rms_norm(gated, self.norms[2], 1e-6)
        pad = (self.conv.shape[-1] - 1) * dilation
        conv = F.conv1d(F.pad(x.transpose(1, 2), (pad, 0)), self.conv, groups=x.shape[2],
                        dilation=dilation)  # fmt: skip
        return gated + F.silu(conv.transpose(1, 2))


def bench_gate_and_block(report: Report, bench: Bench, sizes: Sizes, device: str) -> None:
    from engram_kernels.gate_triton import engram_gate_triton
    from engram_kernels.lookup_triton import engram_hash_lookup_triton

    b, t, d = sizes.batch, sizes.length, sizes.hidden
    h, k, v = (torch.randn(b, t, d, device=device) for _ in range(3))
    ones = torch.ones(d, device=device)
    weights = GateWeights(ones, ones, torch.zeros((), device=device))
    shape = {"B": b, "T": t, "d": d}
    report.add(
        "gate_forward", shape, bench(lambda: engram_gate_triton(h, k, v, weights)),
        bench(lambda: engram_gate_reference(h, k, v, weights)), 4 * h.numel() * 4,
    )  # fmt: skip
    addr = addressing(sizes, sizes.log_rows[0], b, t, device)
    table, tags, _, _ = written_table(sizes, addr, device)
    block = Block.random(len(sizes.orders) * sizes.heads * sizes.head_dim, d, device)
    dilation = max(sizes.orders)

    def run(lookup: Callable, gate: Callable) -> Callable[[], Tensor]:
        keys = NGramKeys(**addr)
        return lambda: block.forward(lambda: lookup(table, tags, keys), gate, h, dilation)

    report.add(
        "engram_block_forward", shape | {"rows": table.shape[0]},
        bench(run(engram_hash_lookup_triton, engram_gate_triton)),
        bench(run(engram_hash_lookup_reference, engram_gate_reference)), None,
    )  # fmt: skip


def bench_topk(report: Report, bench: Bench, sizes: Sizes, device: str, n: int) -> None:
    from engram_kernels.topk_triton import masked_topk_triton

    query = torch.randn(1, sizes.topk_dim, device=device)
    vectors = torch.randn(n, sizes.topk_dim, device=device, dtype=torch.float16)
    for frac in sizes.topk_fractions:
        mask = torch.rand(n, device=device) < frac
        ids = mask.nonzero().squeeze(1)
        nbytes = ids.numel() * (sizes.topk_dim * 2 + 8)
        ref_ms = bench(partial(masked_topk_reference, query, vectors, ids, sizes.topk_k))
        for form, cand in (("ids", ids), ("mask", mask)):
            shape = {"Q": 1, "N": n, "D": sizes.topk_dim, "fraction": frac, "form": form}
            ms = bench(partial(masked_topk_triton, query, vectors, cand, sizes.topk_k))
            report.add("masked_topk", shape, ms, ref_ms, nbytes)


def bench_host_table(report: Report, bench: Bench, sizes: Sizes, device: str) -> None:
    """Batch-64 prefill: Engram lookup from a GPU table vs from a host table staged ahead, both
    after `filler_layers` matmul blocks that stand in for the layers before the Engram layer."""
    from engram_kernels.lookup_triton import engram_lookup_triton

    b, t = sizes.host_batch, sizes.host_length
    addr = addressing(sizes, sizes.host_log_rows, b, t, device)
    table, tags, rows, fps = written_table(sizes, addr, device)
    cpu_addr = {k: v.to("cpu") for k, v in addr.items()}
    host = HostTable(table, tags, device)
    x = torch.randn(b * t, sizes.hidden, device=device)
    w = torch.randn(sizes.hidden, 4 * sizes.hidden, device=device)

    def earlier_blocks() -> None:
        for _ in range(sizes.filler_layers):
            F.linear(F.linear(x, w.T), w)

    def gpu_table() -> Tensor:
        earlier_blocks()
        return engram_lookup_triton(table, tags, rows, fps)

    def host_table(overlap: bool) -> Callable[[], Tensor]:
        def step() -> Tensor:
            cpu_rows, _ = ngram_hash_reference(**cpu_addr)  # the ids are on the CPU at prefill
            if not overlap:
                earlier_blocks()
            staged = host.prefetch(cpu_rows)
            if overlap:
                earlier_blocks()
            return host.lookup(staged, fps)

        return step

    shape = {"B": b, "T": t, "rows": table.shape[0], "filler_layers": sizes.filler_layers}
    gpu_ms = bench(gpu_table)
    for overlap in (True, False):
        ms = bench(host_table(overlap))
        report.add("host_table_prefill", shape | {"prefetch_overlapped": overlap}, ms, gpu_ms, None)
        report.results[-1]["throughput_loss_vs_gpu_table"] = round(ms / gpu_ms - 1, 4)


def copy_bandwidth(bench: Bench, nbytes: int, device: str) -> float:
    """GB/s of a plain device-to-device copy: read + write."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    return 2 * nbytes / bench(lambda: dst.copy_(src)) / 1e6


def median_ms(fn: Callable[[], object]) -> float:
    """The GPU timer: `triton.testing.do_bench` median, in ms."""
    import triton.testing

    return triton.testing.do_bench(fn, return_mode="median")


def run(bench: Bench, sizes: Sizes, device: str, device_name: str) -> Report:
    report = Report(device_name, copy_bandwidth(bench, sizes.copy_bytes, device))
    print(json.dumps({"device": device_name, "copy_GBps": round(report.copy_gbps, 1)}), flush=True)
    for log_rows in sizes.log_rows:
        bench_lookup(report, bench, sizes, device, log_rows)
    bench_gate_and_block(report, bench, sizes, device)
    for n in sizes.topk_n:
        bench_topk(report, bench, sizes, device, n)
    bench_host_table(report, bench, sizes, device)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one size per op")
    parser.add_argument("--table-dtype", choices=["float32", "bfloat16"], default="float32")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit(
            "benchmarks/kernel_speed.py needs a CUDA GPU and torch sees none; the kernels' CPU "
            "correctness checks are `python -m pytest tests/kernels` (Triton interpreter)."
        )
    import triton

    sizes = replace(QUICK if args.quick else Sizes(), table_dtype=getattr(torch, args.table_dtype))
    torch.manual_seed(0)
    report = run(median_ms, sizes, "cuda", torch.cuda.get_device_name())
    summary = {
        "device": report.device,
        "torch": torch.__version__,
        "triton": triton.__version__,
        "table_dtype": args.table_dtype,
        "copy_GBps": round(report.copy_gbps, 1),
        "results": report.results,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
