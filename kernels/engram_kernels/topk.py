"""Masked dense top-k: rank only a candidate subset of N stored vectors against Q queries.

The episodic store narrows candidates with its sketch index first, so dense scoring should cost
what the candidates cost, not what the whole store costs.
"""

from typing import NamedTuple

import torch
from torch import Tensor


class TopK(NamedTuple):
    """scores [Q, k] float32, best first, and the matching vector ids [Q, k]; slots past the
    candidate count hold score -inf and id -1."""

    scores: Tensor
    ids: Tensor


def check_candidates(candidates: Tensor, n: int) -> None:
    if candidates.dtype == torch.bool:
        if candidates.shape != (n,):
            raise ValueError(f"a candidate mask must be [N] = [{n}]; got {list(candidates.shape)}")
    elif candidates.dim() != 1 or candidates.is_floating_point():
        raise ValueError("candidates must be integer ids [C] or a bool mask [N]")


def candidate_ids(candidates: Tensor, n: int) -> Tensor:
    """Unique int64 vector ids from either form: ids [C] or a bool mask [N]."""
    check_candidates(candidates, n)
    if candidates.dtype == torch.bool:
        return candidates.nonzero().squeeze(1)
    return candidates.long()


def check_topk_inputs(queries: Tensor, vectors: Tensor, k: int) -> None:
    if queries.dim() != 2 or vectors.dim() != 2 or queries.shape[1] != vectors.shape[1]:
        raise ValueError(
            f"queries must be [Q, D] and vectors [N, D]; got {queries.shape}, {vectors.shape}"
        )
    if k < 1:
        raise ValueError(f"k must be positive; got {k}")


def masked_topk_reference(queries: Tensor, vectors: Tensor, candidates: Tensor, k: int) -> TopK:
    """Top-k dot-product scores of queries [Q, D] against vectors [N, D], restricted to
    candidates (unique int ids [C] or a bool mask [N]). Queries are cast to the vectors' dtype and
    products accumulate in float32."""
    check_topk_inputs(queries, vectors, k)
    ids = candidate_ids(candidates, vectors.shape[0])
    scores = queries.to(vectors.dtype).float() @ vectors[ids].float().T
    top = scores.topk(min(k, ids.numel()), dim=1)
    pad = k - top.indices.shape[1]
    q = queries.shape[0]
    return TopK(
        torch.cat([top.values, scores.new_full((q, pad), float("-inf"))], dim=1),
        torch.cat([ids[top.indices], ids.new_full((q, pad), -1)], dim=1),
    )
