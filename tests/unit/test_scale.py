"""bench.scale on synthetic benchmark outputs: each size becomes a row, sorted by size, and the cost table
reads the warm one-client cells of each mode (not the concurrent or cold ones)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import scale
from bench.perf import report
from bench.perf.queries_run import QuerySize
from bench.relevance.train import MAIN_ALIAS


def _relevance(directory: Path, articles: int, mrr: float) -> Path:
    directory.mkdir(parents=True)
    scores = {"mrr": mrr, "s1": mrr - 0.05, "s10": 0.99, "total": 80, "n": 300}
    figure = {"known items dev": scores, "known items held-out": {**scores, "mrr": 0.9},
              "judged sample nDCG@10": 0.95, "judged +distractors nDCG@10": mrr - 0.2,
              "judged +distractors nDCG@10 by kind": {"paraphrase": 0.3, "exact": 0.8}, "exact titles at rank 1": 1.0}
    run = {"env": {"date": "2026-11-29 03:00 UTC", "code": "abc1234", "load average": "(1-min) 2.00 at the start"},
           "figures": dict.fromkeys(scale.CONFIGS, figure),
           "indices": {MAIN_ALIAS: {"articles": articles, "passages": articles * 3 // 2}}}
    (directory / "relevance-learned.json").write_text(json.dumps(run), encoding="utf-8")
    return directory


def _cell(target: str, mode: str, cache: str, concurrency: int, latencies: list[float]) -> dict:
    return {"target": target, "mode": mode, "cache": cache, "concurrency": concurrency, "latencies_ms": latencies,
            "errors": 0, "error_samples": [], "shed": 0, "degraded": 0, "wall_seconds": 1.0,
            "es_took_ms": [5.0, 7.0, 9.0] if target == "es" else [], "stopped_early": False, "cpu": {},
            "response_bytes": []}


def _perf(path: Path) -> Path:
    cells = [_cell("service", "bm25", "warm", 1, [10.0, 20.0, 30.0]),
             _cell("service", "bm25", "warm", 16, [500.0]), _cell("service", "bm25", "cold", 1, [900.0]),
             _cell("es", "bm25", "warm", 1, [8.0, 9.0, 10.0]), _cell("service", "hybrid", "warm", 1, [40.0])]
    size = {"label": "xwlb-all", "alias": "xwlb-all", "source": "", "articles": 107306, "passages": 157475,
            "store_bytes": 1249 * 2**20, "results": {"alias": "xwlb-all", "distinct_queries": 55, "cells": cells}}
    path.write_text(json.dumps({"command": "python -m bench.perf --parts queries", "started": "2026-11-29 02:04 UTC",
                                "load_start": [0.4, 0, 0], "load_end": [2.5, 0, 0], "query_sizes": [size]}),
                    encoding="utf-8")
    return path


def test_rows_by_size_and_the_warm_single_client_cells(tmp_path: Path) -> None:
    big = _relevance(tmp_path / "big", 96036, 0.9)
    small = _relevance(tmp_path / "small", 7586, 0.97)
    out = tmp_path / "out"
    assert scale.main(["--relevance", str(big), "--relevance", str(small), "--perf", str(_perf(tmp_path / "p.json")),
                       "--out", str(out)]) == 0
    text = (out / "scale.md").read_text(encoding="utf-8")
    assert (out / "scale.png").stat().st_size > 0
    rows = [line for line in text.splitlines() if line.startswith("| 7,586") or line.startswith("| 96,036")]
    assert [r.split(" |")[0] for r in rows] == ["| 7,586 / 11,379", "| 96,036 / 144,054"] * 2
    assert rows[0].split(" | ")[1] == "0.970" and "0.900 / 0.900" in rows[0]
    cost = next(line for line in text.splitlines() if line.startswith("| xwlb-all"))
    # bm25: service p50 / p95 of the warm c=1 cell; hybrid has no raw ES cell.
    assert "| 20.0 / 29.0 |" in cost and "| 40.0 / 40.0 |" in cost and "| 9.0 · 7.0 |" in cost and "| – |" in cost
    assert "| 1,249 |" in cost and "0.4, 2.5" in cost


def test_the_perf_scale_plot_of_a_run_without_the_load_concurrency(tmp_path: Path) -> None:
    """Only c=1 was run: the latency panel alone (an empty throughput axis cannot be log-scaled)."""
    size = json.loads(_perf(tmp_path / "p.json").read_text(encoding="utf-8"))["query_sizes"][0]
    sizes = [QuerySize(**{**size, "label": f"{n}", "articles": n, "build": None, "reused": None, "merges": {},
                          "heap": {}, "results": scale.results_of(size)}) for n in (7586, 20048)]
    assert sizes[0].results.cell("service", "bm25", "warm", report.LOAD_CONCURRENCY) is not None  # c=16 bm25 only
    report.plot_scale(sizes, tmp_path / "with-load.png")
    for each in sizes:
        each.results.cells = [c for c in each.results.cells if c.concurrency == 1]
    report.plot_scale(sizes, tmp_path / "c1.png")
    assert (tmp_path / "c1.png").stat().st_size > 0 and (tmp_path / "with-load.png").stat().st_size > 0
