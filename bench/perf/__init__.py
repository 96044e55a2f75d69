"""`python -m bench.perf`: indexing throughput, query latency and memory of gov-search.

Run `python -m bench.perf --help` for what it measures and how; results go to
`bench/results/perf.md` with `perf-latency.png` and `perf-indexing.png`.
"""
