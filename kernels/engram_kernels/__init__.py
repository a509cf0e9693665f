"""engram-kernels: the tensor operations of an Engram layer, each with a plain PyTorch reference.

The public names dispatch to a Triton kernel when the tensors are on CUDA and triton is installed,
and to the reference otherwise, with the same signatures (see `dispatch`; `reference_ops()`
forces the references everywhere).
"""

from engram_kernels.dispatch import (
    HAS_TRITON,
    engram_gate,
    engram_hash_lookup,
    engram_lookup,
    masked_topk,
    ngram_hash,
    reference_forced,
    reference_ops,
)
from engram_kernels.gate import GateWeights, engram_gate_reference, rms_norm, signed_sqrt
from engram_kernels.host_tables import HostTable, StagedRows
from engram_kernels.lookup import engram_hash_lookup_reference, engram_lookup_reference, hit_mask
from engram_kernels.ngram_hash import (
    FINGERPRINT_MOD,
    HashConfig,
    NGramKeys,
    next_history,
    ngram_hash_reference,
    skip_pair_hash,
)
from engram_kernels.topk import TopK, masked_topk_reference

__all__ = [
    "FINGERPRINT_MOD",
    "HAS_TRITON",
    "GateWeights",
    "HashConfig",
    "HostTable",
    "NGramKeys",
    "StagedRows",
    "TopK",
    "engram_gate",
    "engram_gate_reference",
    "engram_hash_lookup",
    "engram_hash_lookup_reference",
    "engram_lookup",
    "engram_lookup_reference",
    "hit_mask",
    "masked_topk",
    "masked_topk_reference",
    "next_history",
    "ngram_hash",
    "ngram_hash_reference",
    "reference_forced",
    "reference_ops",
    "rms_norm",
    "signed_sqrt",
    "skip_pair_hash",
]
