"""The fused N-gram hash + table lookup in the Engram layers (`EngramModel.fuses_lookup`): on CUDA
with triton each layer hashes its N-grams on chip; everywhere else the rows are hashed once per
forward in PyTorch. Here the fused path runs the Triton kernel under the interpreter on CPU and
must give the PyTorch path's logits, in a full forward and in KV-cached decoding."""

import pytest
import torch

from engram_agents.model import layer as layer_module
from engram_agents.model.kv_cache import cache_of, with_cache
from engram_agents.model.model import EngramModel
from engram_kernels import hit_mask

pytest.importorskip("triton")

from engram_kernels.lookup_triton import engram_hash_lookup_triton


def randomize(model: EngramModel, keys: torch.Tensor, seed: int) -> None:
    """Random tables and weights, with about half of these keys' rows written (tags set), so
    that memory is read, gated and convolved into the hidden states."""
    g = torch.Generator().manual_seed(seed)
    rows, fps = model.hash(keys)
    fps = fps.repeat_interleave(model.config.heads_per_order, dim=-1)
    pick = (torch.rand(rows.shape, generator=g) < 0.5) & (fps != 0)
    with torch.no_grad():
        for layer in model.engram.values():
            layer.table.normal_(generator=g)
            layer.value.weight.normal_(std=0.2, generator=g)
            layer.conv_weight.normal_(std=0.5, generator=g)
            layer.tags.zero_()
            layer.tags[rows[pick]] = fps[pick]


@pytest.fixture
def fused(monkeypatch):
    """Turns the fused path on for CPU tensors, with the Triton kernel (interpreted); counts
    the kernel's calls."""
    calls = []

    def kernel(*args, **kwargs):
        calls.append(1)
        return engram_hash_lookup_triton(*args, **kwargs)

    monkeypatch.setattr(EngramModel, "fuses_lookup", property(lambda self: True))
    monkeypatch.setattr(layer_module, "engram_hash_lookup", kernel)
    return calls


@pytest.fixture
def inputs(tiny_lm):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(100, 2000, (2, 24), generator=g)
    keyed = (torch.rand(x.shape, generator=g) < 0.8).long()
    randomize(tiny_lm.model, tiny_lm.model.key_ids(x, keyed), seed=1)
    return x, keyed


def test_cpu_keeps_the_pytorch_path(tiny_lm):
    assert not tiny_lm.model.fuses_lookup
    lookup = tiny_lm.model.address(torch.tensor([[5, 6, 7]]))
    assert lookup.ngram_keys is None and lookup.rows is not None


def test_fused_path_gives_the_pytorch_paths_logits(tiny_lm, inputs, fused):
    x, keyed = inputs
    model = tiny_lm.model
    rows, fps = model.hash(model.key_ids(x, keyed))
    assert hit_mask(model.engram["1"].tags, rows, fps).any()  # memory is really read
    with torch.no_grad():
        with pytest.MonkeyPatch.context() as plain:
            plain.setattr(EngramModel, "fuses_lookup", property(lambda self: False))
            reference = model(x, keyed).logits
        assert not fused
        out = model(x, keyed).logits
        with model.disabled():
            base = model(x, keyed).logits
    assert len(fused) == len(model.engram)  # each Engram layer ran the kernel
    assert not torch.allclose(base, reference)  # Engram changed these logits
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-5)


def test_fused_path_decodes_incrementally_like_a_full_pass(tiny_lm, inputs, fused):
    """The history carried between decoding steps reaches the kernel: token-by-token logits
    on the fused path equal the full forward's."""
    x, keyed = inputs
    model = tiny_lm.model
    with torch.no_grad():
        full = model(x, keyed).logits
        state = model.new_state(x.shape[0])
        split = 10
        out = model(x[:, :split], keyed[:, :split], state, use_cache=True)
        steps = [out.logits]
        for t in range(split, x.shape[1]):
            cache = with_cache(model.base, cache_of(out))
            out = model(x[:, t : t + 1], keyed[:, t : t + 1], state, **cache)
            steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-4, rtol=1e-4)
