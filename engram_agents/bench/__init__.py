"""Benchmarks shipped with the package (`engram-agents bench ...`)."""
