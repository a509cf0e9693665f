"""The reference ops against naive per-position Python (the spec), and their invariants."""

import pytest
import torch

from engram_kernels import (
    FINGERPRINT_MOD,
    GateWeights,
    HashConfig,
    engram_gate_reference,
    engram_lookup_reference,
    next_history,
    ngram_hash_reference,
    skip_pair_hash,
)

ORDERS = (1, 2, 3)
K = 2


def setup(seed=0):
    g = torch.Generator().manual_seed(seed)
    mult = torch.randint(1, 1 << 40, (3,), generator=g) * 2 + 1
    fpm = torch.randint(1, 1 << 40, (3,), generator=g) * 2 + 1
    sizes = torch.tensor([[101, 103], [107, 109], [113, 127]])
    offsets = torch.tensor([0, 101, 204, 311, 420, 533]).view(3, 2)
    return mult, fpm, sizes, offsets


def naive(ids, mult, fpm, sizes, offsets):
    b, t = ids.shape
    rows = torch.zeros(b, t, len(ORDERS) * K, dtype=torch.long)
    fps = torch.zeros(b, t, len(ORDERS), dtype=torch.long)
    for i in range(b):
        keyed = []
        for j in range(t):
            if ids[i, j] == 0:
                rows[i, j] = torch.tensor([offsets[o, 0] for o in range(3) for _ in range(K)])
                continue
            keyed.append(int(ids[i, j]))
            for o, n in enumerate(ORDERS):
                gram = keyed[-n:]
                h = f = 0
                for p, x in enumerate(gram):
                    h ^= x * int(mult[p])
                    f ^= x * int(fpm[p])
                for k in range(K):
                    rows[i, j, o * K + k] = h % int(sizes[o, k]) + int(offsets[o, k])
                if len(gram) == n:
                    fps[i, j, o] = f % FINGERPRINT_MOD + 1
    return rows, fps


def test_ngram_hash_matches_naive_spec():
    mult, fpm, sizes, offsets = setup()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 50, (3, 17), generator=g)
    ids[ids < 15] = 0  # unkeyed positions are skipped when N-grams are formed
    hashing = HashConfig(ORDERS, mult, fpm, sizes, offsets)
    rows, fps = ngram_hash_reference(ids, torch.zeros(3, 2, dtype=torch.long), hashing)
    want_rows, want_fps = naive(ids, mult, fpm, sizes, offsets)
    assert torch.equal(fps, want_fps)
    valid = (fps != 0).repeat_interleave(K, dim=-1)
    assert torch.equal(rows[valid], want_rows[valid])


def test_chunked_hashing_with_history_equals_one_pass():
    mult, fpm, sizes, offsets = setup()
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 40, (2, 23), generator=g)
    ids[ids < 12] = 0
    hist = torch.zeros(2, 2, dtype=torch.long)
    hashing = HashConfig(ORDERS, mult, fpm, sizes, offsets)
    whole = ngram_hash_reference(ids, hist, hashing)
    parts_r, parts_f = [], []
    for lo, hi in [(0, 5), (5, 6), (6, 7), (7, 15), (15, 23)]:
        r, f = ngram_hash_reference(ids[:, lo:hi], hist, hashing)
        parts_r.append(r)
        parts_f.append(f)
        hist = next_history(ids[:, lo:hi], hist)
    assert torch.equal(torch.cat(parts_f, 1), whole[1])
    valid = (whole[1] != 0).repeat_interleave(K, dim=-1)  # rows only mean something there
    assert torch.equal(torch.cat(parts_r, 1)[valid], whole[0][valid])


def test_unordered_hash_ignores_word_order():
    mult, fpm, sizes, offsets = setup()
    a = torch.tensor([[5, 9, 0, 7]])
    b = torch.tensor([[9, 5, 0, 7]])
    h = torch.zeros(1, 2, dtype=torch.long)
    unordered = HashConfig(ORDERS, mult, fpm, sizes, offsets, unordered=True)
    ra, fa = ngram_hash_reference(a, h, unordered)
    rb, fb = ngram_hash_reference(b, h, unordered)
    # {5, 9} at position 1 (order 2) and {5, 9, 7} at position 3 (order 3)
    assert fa[0, 1, 1] == fb[0, 1, 1] and fa[0, 3, 2] == fb[0, 3, 2]
    assert torch.equal(ra[0, 1, 2:4], rb[0, 1, 2:4]) and torch.equal(ra[0, 3, 4:], rb[0, 3, 4:])
    assert fa[0, 3, 1] != fb[0, 3, 1]  # (9, 7) and (5, 7) are different sets
    ordered = HashConfig(ORDERS, mult, fpm, sizes, offsets)
    _, oa = ngram_hash_reference(a, h, ordered)
    _, ob = ngram_hash_reference(b, h, ordered)
    assert oa[0, 1, 1] != ob[0, 1, 1]  # ordered hashing tells (5, 9) from (9, 5)


def naive_pairs(ids, window, mult, fpm, sizes, offsets):
    b, t = ids.shape
    fps = torch.zeros(b, t, window, dtype=torch.long)
    rows = torch.zeros(b, t, window * len(sizes), dtype=torch.long)
    for i in range(b):
        keyed = []
        for j in range(t):
            if ids[i, j] == 0:
                continue
            keyed.append(int(ids[i, j]))
            for d in range(1, min(window, len(keyed) - 1) + 1):
                lo, hi = sorted((keyed[-1], keyed[-1 - d]))
                h = lo * int(mult[0]) ^ hi * int(mult[1])
                fps[i, j, d - 1] = (lo * int(fpm[0]) ^ hi * int(fpm[1])) % FINGERPRINT_MOD + 1
                for k, (size, offset) in enumerate(zip(sizes, offsets, strict=True)):
                    rows[i, j, (d - 1) * len(sizes) + k] = h % int(size) + int(offset)
    return rows, fps


def test_skip_pair_hash_matches_naive_spec_whole_and_in_chunks():
    mult, fpm, _, _ = setup()
    sizes, offsets = torch.tensor([131, 137]), torch.tensor([700, 831])
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(0, 40, (3, 21), generator=g)
    ids[ids < 14] = 0
    want_rows, want_fps = naive_pairs(ids, 3, mult, fpm, sizes, offsets)
    rows, fps = skip_pair_hash(
        ids, torch.zeros(3, 3, dtype=torch.long), 3, mult, fpm, sizes, offsets
    )
    assert torch.equal(fps, want_fps)
    valid = (fps != 0).repeat_interleave(2, dim=-1)
    assert valid.any() and torch.equal(rows[valid], want_rows[valid])
    hist, parts = torch.zeros(3, 3, dtype=torch.long), []
    for lo, hi in [(0, 4), (4, 5), (5, 13), (13, 21)]:  # what incremental decoding does
        parts.append(skip_pair_hash(ids[:, lo:hi], hist, 3, mult, fpm, sizes, offsets)[1])
        hist = next_history(ids[:, lo:hi], hist)
    assert torch.equal(torch.cat(parts, 1), fps)


def test_a_pair_is_one_key_at_any_distance_and_in_either_order():
    mult, fpm, _, _ = setup()
    sizes, offsets = torch.tensor([131, 137]), torch.tensor([700, 831])
    h = torch.zeros(1, 3, dtype=torch.long)
    near = torch.tensor([[5, 9]])  # "tests Sierra"
    far = torch.tensor([[9, 0, 4, 8, 5]])  # "Sierra, which folder holds ... tests"
    rn, fn = skip_pair_hash(near, h, 3, mult, fpm, sizes, offsets)
    rf, ff = skip_pair_hash(far, h, 3, mult, fpm, sizes, offsets)
    assert fn[0, 1, 0] == ff[0, 4, 2] != 0  # distance 1 there, 3 here
    assert torch.equal(rn[0, 1, 0:2], rf[0, 4, 4:6])
    assert ff[0, 4, 0] != fn[0, 1, 0]  # {8, 5} is another pair
    too_far = torch.tensor([[9, 1, 2, 3, 5]])
    assert fn[0, 1, 0] not in skip_pair_hash(too_far, h, 3, mult, fpm, sizes, offsets)[1]


def test_lookup_returns_rows_only_for_matching_tags_with_sparse_grad():
    table = torch.randn(20, 4, requires_grad=True)
    tags = torch.zeros(20, dtype=torch.long)
    tags[3], tags[7] = 11, 22
    rows = torch.tensor([[[3, 7], [3, 5]]])  # [B=1, T=2, H=2], one order with 2 heads
    fps = torch.tensor([[[11], [22]]])
    out = engram_lookup_reference(table, tags, rows, fps)
    assert torch.equal(out[0, 0, :4], table[3].detach())
    assert not out[0, 0, 4:].any() and not out[0, 1].any()  # tag mismatch and unwritten row
    out.sum().backward()
    assert table.grad.is_sparse
    dense = table.grad.to_dense()
    assert dense[3].eq(1).all() and not dense[7].any() and not dense[5].any()


def test_gate_is_zero_for_zero_memory_and_bounded_by_value():
    g = torch.Generator().manual_seed(3)
    h = torch.randn(2, 5, 16, generator=g)
    k = torch.randn(2, 5, 16, generator=g)
    v = torch.randn(2, 5, 16, generator=g)
    w = torch.ones(16)
    out = engram_gate_reference(h, k, v, GateWeights(w, w, torch.tensor(-2.0)))
    alpha = out / v
    assert ((alpha > 0) & (alpha < 1)).all()
    assert torch.allclose(alpha, alpha[..., :1].expand_as(alpha), atol=1e-5)
    zero = torch.zeros_like(k, requires_grad=True)
    out0 = engram_gate_reference(h, zero, zero, GateWeights(w, w, torch.tensor(0.0)))
    assert not out0.any()
    out0.sum().backward()
    assert torch.isfinite(zero.grad).all()


def test_hash_config_names_what_does_not_fit():
    mult, fpm, sizes, offsets = setup()
    with pytest.raises(ValueError, match="head_sizes and head_offsets"):
        HashConfig((2, 3), mult, fpm, sizes, offsets)  # three rows of heads for two orders
    with pytest.raises(ValueError, match="multipliers must hold"):
        HashConfig(ORDERS, mult[:2], fpm, sizes, offsets)
    hashing = HashConfig([1, 2, 3], mult, fpm, sizes, offsets)
    assert hashing.orders == ORDERS and hashing.max_order == 3 and hashing.heads_per_order == K
    moved = hashing.to("meta")
    assert all(t.is_meta for t in moved.tensors) and moved.orders == ORDERS
