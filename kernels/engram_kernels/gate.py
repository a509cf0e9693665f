"""Context-aware gate: alpha = sigmoid(signed_sqrt(<RMSNorm(k), RMSNorm(h)> / sqrt(d)) + b)."""

import math
from typing import NamedTuple

import torch
from torch import Tensor

SQRT_EPS = 1e-6


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def signed_sqrt(x: Tensor) -> Tensor:
    """sign(x) * sqrt(|x|), shifted so the gradient at 0 stays finite."""
    return torch.sign(x) * (torch.sqrt(x.abs() + SQRT_EPS) - math.sqrt(SQRT_EPS))


class GateWeights(NamedTuple):
    """The gate's own parameters, one object that the reference and the Triton kernel both take
    (so their signatures cannot drift apart): the two RMSNorm weights [d], the bias and eps."""

    key_norm: Tensor
    hidden_norm: Tensor
    bias: Tensor
    eps: float = 1e-6


def engram_gate_reference(hidden: Tensor, key: Tensor, value: Tensor, gate: GateWeights) -> Tensor:
    """Gate the value by how well the memory's key matches the current hidden state.

    hidden, key, value: [..., d]. Returns alpha * value, with alpha: [..., 1].
    """
    k = rms_norm(key, gate.key_norm, gate.eps)
    h = rms_norm(hidden, gate.hidden_norm, gate.eps)
    score = (k * h).sum(-1, keepdim=True) / math.sqrt(hidden.shape[-1])
    return torch.sigmoid(signed_sqrt(score) + gate.bias) * value
