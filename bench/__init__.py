"""Benchmarks for gov-search: `python -m bench.relevance` (judged-query relevance) and `python -m bench.perf`."""
