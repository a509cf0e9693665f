import pytest
import torch

pytest.importorskip("triton")

from engram_kernels.lookup import (
    engram_hash_lookup_reference,
    engram_lookup_reference,
)
from engram_kernels.lookup_triton import (
    engram_hash_lookup_triton,
    engram_lookup_triton,
)
from engram_kernels.ngram_hash import NGramKeys, ngram_hash_reference


def written_tags(x, written: float, seed: int) -> torch.Tensor:
    """Tags as memorize leaves them: some N-grams written (later writes win), the rest 0."""
    g = torch.Generator().manual_seed(seed)
    rows, fps = ngram_hash_reference(*x.args)
    fps = fps.repeat_interleave(rows.shape[-1] // fps.shape[-1], dim=-1)
    pick = (torch.rand(rows.shape, generator=g) < written) & (fps != 0)
    tags = torch.zeros(x.total_rows, dtype=torch.long)
    tags[rows[pick]] = fps[pick]
    return tags


def run_both(reference, kernel, table, grad_seed: int, **kwargs):
    """Forward and backward through both; returns (outputs, dense table grads)."""
    results = []
    for fn in (reference, kernel):
        t = table.detach().clone().requires_grad_()
        out = fn(t, **kwargs)
        g = torch.Generator().manual_seed(grad_seed)
        out.backward(torch.randn(out.shape, generator=g, dtype=out.dtype))
        results.append((out, t.grad))
    return results


CASES = [
    # batch, length, orders, heads, dim, table dtype
    (2, 70, (2, 3), 2, 20, torch.float32),  # positions and dim not multiples of the blocks
    (1, 9, (1, 2, 4), 1, 64, torch.float32),
    (3, 5, (2, 3), 3, 8, torch.bfloat16),
]


@pytest.mark.parametrize(("batch", "length", "orders", "heads", "dim", "dtype"), CASES)
@pytest.mark.parametrize("sparse", [True, False])
def test_lookup_forward_and_sparse_backward(
    hash_inputs, batch, length, orders, heads, dim, dtype, sparse
):
    x = hash_inputs(batch, length, orders, heads, seed=length)
    tags = written_tags(x, written=0.6, seed=length)
    rows, fps = ngram_hash_reference(*x.args)
    table = torch.randn(x.total_rows, dim).to(dtype)
    (ref, ref_grad), (out, grad) = run_both(
        engram_lookup_reference, engram_lookup_triton, table, length,
        tags=tags, rows=rows, fingerprints=fps, sparse=sparse,
    )  # fmt: skip
    hits = (ref != 0).any(-1).float().mean()
    assert 0.05 < hits < 0.95, "the case must mix hits and misses"
    assert torch.equal(out, ref)
    assert grad.layout == (torch.sparse_coo if sparse else torch.strided)
    if sparse:  # one entry per unique hit row, never a table-sized gradient
        assert grad._nnz() == torch.unique(rows[(ref.view(*rows.shape, dim) != 0).any(-1)]).numel()
    torch.testing.assert_close(grad.to_dense(), ref_grad.to_dense(), atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize(("batch", "length", "orders", "heads", "dim", "dtype"), CASES)
@pytest.mark.parametrize("unordered", [False, True])
def test_fused_hash_lookup(hash_inputs, batch, length, orders, heads, dim, dtype, unordered):
    x = hash_inputs(batch, length, orders, heads, unordered=unordered, seed=length + 1)
    tags = written_tags(x, written=0.5, seed=length)
    table = torch.randn(x.total_rows, dim).to(dtype)
    keys = NGramKeys(*x.args)
    (ref, ref_grad), (out, grad) = run_both(
        engram_hash_lookup_reference, engram_hash_lookup_triton, table, length, tags=tags, keys=keys
    )
    assert torch.equal(out, ref)
    torch.testing.assert_close(grad.to_dense(), ref_grad.to_dense(), atol=1e-2, rtol=1e-2)


def test_sparse_adam_trains_only_the_looked_up_rows(hash_inputs):
    x = hash_inputs(2, 11, seed=5)
    tags = written_tags(x, written=1.0, seed=5)
    rows, fps = ngram_hash_reference(*x.args)
    table = torch.nn.Parameter(torch.randn(x.total_rows, 4))
    before = table.detach().clone()
    opt = torch.optim.SparseAdam([table], lr=0.1)
    engram_lookup_triton(table, tags, rows, fps).sum().backward()
    opt.step()
    changed = (table.detach() != before).any(-1)
    hit_rows = torch.unique(rows[tags[rows] == fps.repeat_interleave(2, -1)])
    assert changed.nonzero().squeeze(1).tolist() == hit_rows.tolist()


def test_lookup_without_grad_stores_no_rows(hash_inputs):
    x = hash_inputs(1, 4, seed=2)
    rows, fps = ngram_hash_reference(*x.args)
    table = torch.randn(x.total_rows, 3)
    out = engram_lookup_triton(table, written_tags(x, 1.0, 2), rows, fps)
    assert not out.requires_grad and out.shape == (1, 4, rows.shape[-1] * 3)
