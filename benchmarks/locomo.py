"""LoCoMo evidence recall: Engram store vs dense, BM25 and Chroma RAG (same run, same encoder).

    python benchmarks/locomo.py benchmarks/data/locomo_sample.json --json

Same as `engram-agents bench locomo FILE --json`; the last line printed is one JSON object."""

import sys

from engram_agents_demo.bench.locomo import cli

if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
