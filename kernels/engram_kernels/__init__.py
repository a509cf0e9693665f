"""engram-kernels: the tensor operations of an Engram layer, each with a plain PyTorch reference.

The model calls the public names below; they dispatch to a fused kernel where one exists for the
device and to the reference otherwise, with the same signatures.
"""

from engram_kernels.gate import engram_gate_reference, rms_norm, signed_sqrt
from engram_kernels.lookup import engram_lookup_reference, hit_mask
from engram_kernels.ngram_hash import FINGERPRINT_MOD, next_history, ngram_hash_reference

ngram_hash = ngram_hash_reference
engram_lookup = engram_lookup_reference
engram_gate = engram_gate_reference

__all__ = [
    "FINGERPRINT_MOD",
    "engram_gate",
    "engram_gate_reference",
    "engram_lookup",
    "engram_lookup_reference",
    "hit_mask",
    "next_history",
    "ngram_hash",
    "ngram_hash_reference",
    "rms_norm",
    "signed_sqrt",
]
