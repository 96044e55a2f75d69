"""The perf report's query verdicts (`bench.perf.report.query_verdicts`): the load target is judged warm and cold."""

from __future__ import annotations

from bench.perf.load import Cell
from bench.perf.queries_run import QueryResults, QuerySize
from bench.perf.report import query_verdicts


def _size(cells: list[Cell]) -> QuerySize:
    return QuerySize(label="sample + 20,000 xwlb", alias="a", source="s", articles=1, passages=1, store_bytes=0,
                     build=None, reused=None, merges={}, heap={}, results=QueryResults(alias="a", distinct_queries=1,
                                                                                       cells=cells))


def _loaded(cache: str, latency_ms: float, seconds: float, shed: int = 0) -> Cell:
    return Cell(target="service", mode="hybrid", cache=cache, concurrency=16, latencies_ms=[latency_ms] * 200,
                wall_seconds=seconds, shed=shed)


def _load_verdicts(cells: list[Cell]) -> dict[str, bool | None]:
    return {v.name.split("(")[1].split(")")[0]: v.met for v in query_verdicts(_size(cells))
            if "concurrent clients" in v.name}


def test_the_load_target_is_judged_on_the_warm_and_the_cold_cell_apart() -> None:
    fast, slow_tail = _loaded("warm", 100.0, 1.0), _loaded("cold", 300.0, 2.0, shed=3)  # 200 req/s; 100 req/s
    assert _load_verdicts([fast, slow_tail]) == {"warm": True, "cold": False}  # the cold p99 300 ms > 250
    assert _load_verdicts([fast]) == {"warm": True, "cold": None}  # not run: not measured, never met
    cold = next(v for v in query_verdicts(_size([fast, slow_tail])) if "(cold)" in v.name)
    assert "100.0 req/s, p99 300 ms" in cold.detail and "c=16: 3 of 203" in cold.detail
