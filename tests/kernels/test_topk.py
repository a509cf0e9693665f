import pytest
import torch

from engram_kernels.topk import masked_topk_reference


def store(q: int, n: int, d: int, frac: float, dtype: torch.dtype, seed: int):
    g = torch.Generator().manual_seed(seed)
    queries = torch.randn(q, d, generator=g)
    vectors = torch.randn(n, d, generator=g).to(dtype)
    mask = torch.rand(n, generator=g) < frac
    ids = mask.nonzero().squeeze(1)
    ids = ids[torch.randperm(ids.numel(), generator=g)]  # ids need not be sorted
    return queries, vectors, mask, ids


def test_reference_matches_brute_force():
    queries, vectors, mask, ids = store(3, 200, 16, 0.2, torch.float16, seed=0)
    scores = queries.half().float() @ vectors.float().T
    best = scores.masked_fill(~mask, float("-inf")).topk(5, dim=1)
    for cand in (mask, ids):
        top = masked_topk_reference(queries, vectors, cand, 5)
        assert torch.equal(top.ids, best.indices)
        torch.testing.assert_close(top.scores, best.values)


def test_reference_pads_when_k_exceeds_candidates():
    queries, vectors, _, ids = store(2, 40, 8, 0.1, torch.float16, seed=1)
    top = masked_topk_reference(queries, vectors, ids, ids.numel() + 3)
    assert (top.ids[:, -3:] == -1).all() and torch.isinf(top.scores[:, -3:]).all()
    assert set(top.ids[0, :-3].tolist()) == set(ids.tolist())


triton_cases = pytest.mark.parametrize(
    ("q", "n", "d", "k", "frac", "dtype"),
    [
        (1, 300, 40, 5, 0.1, torch.float16),  # one query, 5 blocks of the mask, d < block
        (3, 130, 70, 10, 1.0, torch.bfloat16),  # d over two blocks, all candidates
        (17, 90, 16, 3, 0.05, torch.float16),  # queries over two blocks, very few candidates
        (2, 50, 32, 70, 0.5, torch.float16),  # k > candidates: padded
    ],
)


@triton_cases
def test_triton_topk_matches_reference(q, n, d, k, frac, dtype):
    pytest.importorskip("triton")
    from engram_kernels.topk_triton import masked_topk_triton

    queries, vectors, mask, ids = store(q, n, d, frac, dtype, seed=n)
    ref = masked_topk_reference(queries, vectors, ids, k)
    for cand in (mask, ids):
        top = masked_topk_triton(queries, vectors, cand, k)
        assert torch.equal(top.ids, ref.ids)
        torch.testing.assert_close(top.scores, ref.scores, atol=1e-4, rtol=1e-4)


def test_triton_topk_with_no_candidates():
    pytest.importorskip("triton")
    from engram_kernels.topk_triton import masked_topk_triton

    queries, vectors, _, _ = store(2, 20, 16, 0.0, torch.float16, seed=2)
    top = masked_topk_triton(queries, vectors, torch.empty(0, dtype=torch.long), 4)
    assert (top.ids == -1).all() and torch.isinf(top.scores).all()


def test_topk_input_errors():
    queries, vectors, mask, _ = store(1, 20, 8, 0.5, torch.float16, seed=3)
    with pytest.raises(ValueError, match="mask must be"):
        masked_topk_reference(queries, vectors, mask[:10], 2)
    with pytest.raises(ValueError, match="queries must be"):
        masked_topk_reference(queries[:, :4], vectors, mask, 2)
