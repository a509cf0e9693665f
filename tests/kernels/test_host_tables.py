import torch

from engram_kernels import HostTable
from engram_kernels.lookup import engram_lookup_reference
from engram_kernels.ngram_hash import ngram_hash_reference


def test_staged_lookup_equals_lookup_on_the_whole_table(hash_inputs):
    x = hash_inputs(2, 30, seed=4)
    rows, fps = ngram_hash_reference(*x.args)
    table = torch.randn(x.total_rows, 6)
    tags = torch.zeros(x.total_rows, dtype=torch.long)
    tags[rows[:, ::2]] = fps.repeat_interleave(2, -1)[:, ::2]
    rows, fps = rows[:, :3], fps[:, :3]  # one short chunk reads a fraction of the table
    host = HostTable(table, tags)
    staged = host.prefetch(rows)
    assert staged.table.shape[0] == torch.unique(rows).numel() < x.total_rows
    out = host.lookup(staged, fps)
    assert torch.equal(out, engram_lookup_reference(table, tags, rows, fps))
    assert (out != 0).any()
