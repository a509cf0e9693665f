"""Compile every kernel for an H100 (sm_90) ahead of time, with no GPU present.

The interpreter runs kernels as NumPy and forgives what the compiler rejects (types, layouts,
unsupported ops); lowering each kernel to PTX catches that on a CPU-only machine. The kernels
must be imported without TRITON_INTERPRET for that, hence the subprocess.
"""

import os
import subprocess
import sys

import pytest

FLOATS = {"eps", "inv_sqrt_d", "shift", "root_shift"}
HASH = {"rank_ptr": "*i32", "orders_ptr": "*i32"}
HASH_META = {"HIST": 2, "MAX_ORDER_P2": 4, "BLOCK": 64}


def compile_sm90(kernel, pointers: dict[str, str], constexprs: dict) -> None:
    """Pointers default to int64; other runtime scalars are int32 unless named in FLOATS."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    def kind(name: str) -> str:
        if name in constexprs:
            return "constexpr"
        if name.endswith("_ptr"):
            return pointers.get(name, "*i64")
        return "fp32" if name in FLOATS else "i32"

    signature = {name: kind(name) for name in kernel.arg_names}
    src = ASTSource(fn=kernel, signature=signature, constexprs=constexprs)
    assert triton.compile(src, target=GPUTarget("cuda", 90, 32)).asm["ptx"]


def compile_all() -> None:
    from engram_kernels import gate_triton, hash_triton, lookup_triton, topk_triton

    compile_sm90(hash_triton._compact_kernel, HASH, {"HIST": 2, "BLOCK": 1024})
    for unordered in (False, True):
        meta = HASH_META | {"UNORDERED": unordered}
        compile_sm90(hash_triton._ngram_hash_kernel, HASH, meta)
    for store in (False, True):
        table = {"table_ptr": "*bf16", "out_ptr": "*bf16"}
        table["hit_rows_ptr"] = "*i64" if store else "*bf16"
        meta = {"BLOCK_D": 64, "STORE_ROWS": store}
        compile_sm90(lookup_triton._lookup_kernel, table, meta | {"BLOCK": 64})
        fused = HASH_META | meta | {"UNORDERED": False}
        compile_sm90(lookup_triton._hash_lookup_kernel, HASH | table, fused)
    f32 = {n: "*fp32" for n in ("h_ptr", "k_ptr", "v_ptr", "kw_ptr", "hw_ptr", "bias_ptr")}
    gate_meta = {"BLOCK_M": 4, "BLOCK_D": 1024}
    compile_sm90(gate_triton._gate_kernel, f32 | {"out_ptr": "*fp32"}, gate_meta)
    for ids in (True, False):
        ptrs = {"q_ptr": "*fp16", "v_ptr": "*fp16", "cand_ptr": "*i64" if ids else "*i1"}
        meta = {"IDS": ids, "BLOCK_Q": 16, "BLOCK_N": 64, "BLOCK_D": 64, "K": 16}
        compile_sm90(topk_triton._topk_kernel, ptrs, meta)


def test_every_kernel_compiles_for_sm90():
    pytest.importorskip("triton")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    done = subprocess.run(
        [sys.executable, __file__], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]


if __name__ == "__main__":
    compile_all()
