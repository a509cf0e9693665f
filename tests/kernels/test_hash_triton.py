import pytest
import torch

pytest.importorskip("triton")

from engram_kernels.hash_triton import BLOCK_T, ngram_hash_triton
from engram_kernels.ngram_hash import next_history, ngram_hash_reference


@pytest.mark.parametrize(
    ("batch", "length", "orders", "heads", "keyed", "unordered"),
    [
        (2, BLOCK_T + 6, (2, 3), 2, 0.7, False),  # crosses a block boundary
        (3, 5, (2, 3), 3, 0.5, True),
        (1, 37, (1, 2, 4), 2, 0.3, True),  # unigrams, order 4, mostly unkeyed
        (2, 9, (3,), 1, 1.0, False),
        (2, 6, (2,), 2, 0.0, False),  # nothing keyed: no N-grams at all
    ],
)
def test_hash_matches_reference_bit_for_bit(
    hash_inputs, batch, length, orders, heads, keyed, unordered
):
    x = hash_inputs(batch, length, orders, heads, keyed=keyed, unordered=unordered, seed=length)
    ref_rows, ref_fps = ngram_hash_reference(*x.args)
    rows, fps = ngram_hash_triton(*x.args)
    assert torch.equal(rows, ref_rows)
    assert torch.equal(fps, ref_fps)


def test_hash_is_incremental(hash_inputs):
    """Hashing a chunk after its history equals hashing the whole sequence (decoding)."""
    x = hash_inputs(2, 12, keyed=0.6, seed=3)
    full_rows, full_fps = ngram_hash_triton(*x.args)
    head_rows, _ = ngram_hash_triton(x.ids[:, :7], *x.args[1:])
    history = next_history(x.ids[:, :7], x.history)
    tail_rows, tail_fps = ngram_hash_triton(x.ids[:, 7:], history, *x.args[2:])
    assert torch.equal(torch.cat([head_rows, tail_rows], 1), full_rows)
    assert torch.equal(tail_fps, full_fps[:, 7:])
