import pytest
import torch

pytest.importorskip("triton")

from engram_kernels.gate import GateWeights, engram_gate_reference
from engram_kernels.gate_triton import engram_gate_triton


def gate_inputs(shape: tuple[int, ...], dtype: torch.dtype, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    d = shape[-1]
    acts = [torch.randn(shape, generator=g).to(dtype) for _ in range(3)]  # hidden, key, value
    weights = [torch.rand(d, generator=g) + 0.5 for _ in range(2)]
    return [*acts, *weights, torch.tensor(0.3)]


@pytest.mark.parametrize(
    ("shape", "dtype", "tol"),
    [
        ((2, 5, 40), torch.float32, 1e-5),  # d not a power of two
        ((33, 130), torch.float32, 1e-5),  # rows not a multiple of the row block
        ((3, 4, 7), torch.bfloat16, 2e-3),  # the reference rounds its norms in bf16
        ((1, 1, 1024), torch.float32, 1e-5),
    ],
)
def test_gate_forward_and_backward(shape, dtype, tol):
    inputs = gate_inputs(shape, dtype, seed=shape[-1])
    results = []
    for fn in (engram_gate_reference, engram_gate_triton):
        leaves = [t.clone().requires_grad_() for t in inputs]
        hidden, key, value, *weights = leaves
        out = fn(hidden, key, value, GateWeights(*weights, 1e-6))
        g = torch.Generator().manual_seed(1)
        out.backward(torch.randn(out.shape, generator=g).to(out.dtype))
        results.append((out, [t.grad for t in leaves]))
    (ref, ref_grads), (out, grads) = results
    assert out.dtype == ref.dtype
    torch.testing.assert_close(out, ref, atol=tol, rtol=tol)
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref_grad, atol=tol, rtol=tol)


def test_gate_of_silent_memory_is_zero():
    hidden, _, value, *rest = gate_inputs((4, 24), torch.float32, seed=0)
    zero = torch.zeros_like(value)
    assert torch.equal(engram_gate_triton(hidden, zero, zero, GateWeights(*rest)), zero)


def test_gate_rejects_broadcast_shapes():
    hidden, key, value, *rest = gate_inputs((4, 24), torch.float32, seed=0)
    with pytest.raises(ValueError, match="share a shape"):
        engram_gate_triton(hidden, key[:1], value, GateWeights(*rest))
