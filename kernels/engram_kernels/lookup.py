"""Multi-head gather from one flat embedding table, with fingerprint tags.

A row contributes only when its stored tag equals the N-gram's fingerprint: rows nobody wrote
(tag 0) and rows written for a different N-gram (hash collision) return exactly zero.
"""

import torch.nn.functional as F
from torch import Tensor

from engram_kernels.ngram_hash import NGramKeys, ngram_hash_reference


def engram_lookup_reference(
    table: Tensor, tags: Tensor, rows: Tensor, fingerprints: Tensor, sparse: bool = True
) -> Tensor:
    """table: [R, D]; tags: [R] int64; rows: [B, T, H] with H = len(orders) * K; fingerprints:
    [B, T, len(orders)]. Returns the concatenated head embeddings [B, T, H * D].

    With sparse=True the table's gradient is a sparse tensor over the gathered rows only.
    """
    hit = hit_mask(tags, rows, fingerprints)
    emb = F.embedding(rows, table, sparse=sparse) * hit.unsqueeze(-1).to(table.dtype)
    return emb.flatten(-2)


def hit_mask(tags: Tensor, rows: Tensor, fingerprints: Tensor) -> Tensor:
    """[B, T, H] bool: which head lookups hit a row written for this very N-gram."""
    heads_per_order = rows.shape[-1] // fingerprints.shape[-1]
    fp = fingerprints.repeat_interleave(heads_per_order, dim=-1)
    return (tags[rows] == fp) & (fp != 0)


def engram_hash_lookup_reference(
    table: Tensor, tags: Tensor, keys: NGramKeys, sparse: bool = True
) -> Tensor:
    """`ngram_hash` then `engram_lookup`: compressed ids [B, T] to embeddings [B, T, H * D]."""
    rows, fingerprints = ngram_hash_reference(*keys)
    return engram_lookup_reference(table, tags, rows, fingerprints, sparse)
