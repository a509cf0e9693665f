"""Canonical ids address every memorized table: a change to the word rules they come from
(`engram_agents.text`) makes saved tables unreadable, so it must be deliberate."""

import hashlib

from engram_agents.model.compression import TokenCompressor

# TokenCompressor(embedded SmolLM2 tokenizer).table, sha256 of its int64 bytes
PINNED_TABLE = "32aa2ea6934292196b10d805e2d7632ff145ac8fc1f0e7a0c8e62900abdc7d5f"


def test_canonical_ids_of_the_embedded_tokenizer_are_unchanged(tokenizer):
    compressor = TokenCompressor(tokenizer)
    assert compressor.num_canonical == 24963
    assert hashlib.sha256(compressor.table.numpy().tobytes()).hexdigest() == PINNED_TABLE
