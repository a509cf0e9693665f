import os
import subprocess
import sys

import torch

import engram_kernels as ek


def test_cpu_tensors_use_the_references(hash_inputs):
    x = hash_inputs(2, 9, seed=1)
    rows, fps = ek.ngram_hash(*x.args)
    ref_rows, ref_fps = ek.ngram_hash_reference(*x.args)
    assert torch.equal(rows, ref_rows) and torch.equal(fps, ref_fps)
    table = torch.randn(x.total_rows, 4)
    tags = torch.zeros(x.total_rows, dtype=torch.long)
    tags[rows[..., 0]] = fps[..., 0]
    ref = ek.engram_lookup_reference(table, tags, rows, fps)
    assert torch.equal(ek.engram_lookup(table, tags, rows, fps), ref)
    assert torch.equal(ek.engram_hash_lookup(table, tags, ek.NGramKeys(*x.args)), ref)
    assert not ek.dispatch.use_triton(table)


def test_import_and_ops_work_without_triton():
    code = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch, engram_kernels as ek\n"
        "assert not ek.HAS_TRITON\n"
        "v = torch.randn(10, 4).half()\n"
        "print(ek.masked_topk(torch.randn(1, 4), v, torch.arange(3), 2).ids.tolist())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "triton" not in done.stderr


def test_reference_ops_forces_the_references_inside_the_block_only():
    assert not ek.reference_forced()
    with ek.reference_ops():
        assert ek.reference_forced()
        assert not ek.dispatch.use_triton(torch.zeros(1))
    assert not ek.reference_forced()


def test_the_environment_forces_the_references_for_the_whole_process():
    code = "import engram_kernels as ek; print(ek.reference_forced())"
    env = {**os.environ, "ENGRAM_KERNELS": "reference"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_on_cuda_an_op_runs_its_kernel_only_for_inputs_the_kernel_covers(monkeypatch):
    """CUDA is simulated (every tensor counts as on CUDA; Triton runs in its interpreter): the
    gate kernel takes equal shapes and a one-element bias, the top-k kernel half vectors."""
    import engram_kernels.gate_triton as gate_triton
    import engram_kernels.topk_triton as topk_triton

    ran: list[str] = []

    def recorded(module, name):
        kernel = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, **k: ran.append(name) or kernel(*a, **k))

    recorded(gate_triton, "engram_gate_triton")
    recorded(topk_triton, "masked_topk_triton")
    monkeypatch.setattr(ek.dispatch, "use_triton", lambda *tensors: True)
    h, k, v = torch.randn(3, 2, 5, 8).unbind(0)
    w = torch.ones(8)
    gate = ek.GateWeights(w, w, torch.tensor(0.5))
    out = ek.engram_gate(h, k, v, gate=gate)
    torch.testing.assert_close(out, ek.engram_gate_reference(h, k, v, gate))
    assert ran == ["engram_gate_triton"]
    ek.engram_gate(h, k[:, :1], v, gate)  # broadcast key: the reference
    ek.engram_gate(h, k, v, gate._replace(bias=torch.zeros(2, 5, 1)))  # a bias per position
    assert ran == ["engram_gate_triton"]
    vectors = torch.randn(10, 4)
    ek.masked_topk(torch.randn(1, 4), vectors, torch.arange(6), 2)  # float32: the reference
    assert ran == ["engram_gate_triton"]
    top = ek.masked_topk(torch.randn(1, 4), vectors.half(), torch.arange(6), k=2)
    assert ran == ["engram_gate_triton", "masked_topk_triton"] and top.ids.shape == (1, 2)
