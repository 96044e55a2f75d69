"""The suggestion benchmark: GET /suggest latency per input kind, as a citizen types, at each index size.

Four kinds of input, each typed keystroke by keystroke towards a target word (every prefix is one
request, as the page asks on every keystroke): Chinese prefixes (安, 安全, 安全生…), full pinyin (an,
anq, anquan…), initials (a, aq, aqs…) and mixed (安q, 安qu, 安quan…). The API is a real `uvicorn`
subprocess with a search log of `POPULAR_QUERIES` popular queries (the perf query mix and combinations
of it, each above the privacy floor), so every request also walks the in-memory popular-query index
at its full size. Beside each service request, the title request it sends (`service.suggest.titles_body`)
is timed against Elasticsearch directly. Target: p50 < 20 ms for every kind on the 20,000-article index.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.perf import queries as query_mix
from bench.perf.load import ApiProcess, Cell, run_jobs
from govsearch import pinyin
from govsearch.settings import Settings
from indexer import elastic
from service.popular import MAX_POPULAR
from service.suggest import titles_body

P50_MAX_MS = 20.0
TARGET_ARTICLES = 20_000  # the target is judged on the index with (at least) this many xwlb articles
LOG_INDEX = "bench-perf-queries"
POPULAR_QUERIES = MAX_POPULAR
KINDS = ("chinese", "pinyin", "initials", "mixed")
TARGETS = ["安全生产", "乡村振兴", "疫情防控", "港西镇", "国务院常务会议", "经济发展", "垃圾分类", "一带一路",
           "防汛抗旱", "食品安全"]


def keystrokes(kind: str, target: str) -> list[str]:
    """What the box holds after each keystroke while `target` is typed as `kind`."""
    if kind == "chinese":
        return [target[:i] for i in range(1, len(target) + 1)]
    full, initials = pinyin.suffix_forms(target)
    if kind == "pinyin":
        return [full[0][:i] for i in range(2, len(full[0]) + 1)]
    if kind == "initials":
        return [initials[0][:i] for i in range(1, len(initials[0]) + 1)]
    rest = pinyin.query_form(target[1:])  # mixed: the first character chosen, the rest in pinyin
    return [target[0] + rest[:i] for i in range(1, len(rest) + 1)]


def inputs(kind: str) -> list[str]:
    return [typed for target in TARGETS for typed in keystrokes(kind, target)]


def popular_queries(n: int = POPULAR_QUERIES) -> list[str]:
    """`n` distinct queries: the perf mix and the targets, then pairs of them ("乡村振兴 垃圾分类")."""
    base = list(dict.fromkeys(query_mix.QUERIES + TARGETS))
    pairs = [f"{a} {b}" for a in base for b in base if a != b]
    return (base + pairs)[:n]


def seed_log(es: Any, settings: Settings, queries: list[str], seed: int = 3) -> int:
    """Write a search log in which every query found something and was searched by more different searchers
    than the privacy floor, on days spread over the last two weeks; returns the number of searches written."""
    if es.indices.exists(index=LOG_INDEX):
        es.indices.delete(index=LOG_INDEX)
    elastic.ensure_system_index(es, LOG_INDEX, "queries")
    rng = random.Random(seed)
    now = datetime.now(UTC)
    operations: list[dict[str, Any]] = []
    for query in queries:
        for searcher in range(settings.suggest_min_searches + rng.randrange(20)):
            when = now - timedelta(days=rng.uniform(0, 14))
            operations += [{"create": {}}, {"kind": "search", "query": query, "total": 1, "corrected": False,
                                            "searcher": f"{searcher:016x}", "timestamp": when.isoformat()}]
    for start in range(0, len(operations), 4000):
        es.bulk(index=LOG_INDEX, operations=operations[start:start + 4000])
    es.indices.refresh(index=LOG_INDEX)
    return len(operations) // 2


@dataclass
class SuggestResults:
    label: str
    alias: str
    popular: int  # popular queries the API held (above the floor)
    searches: int  # searches in the seeded log
    rounds: int
    cells: list[Cell] = field(default_factory=list)

    def cell(self, target: str, kind: str) -> Cell | None:
        return next((c for c in self.cells if (c.target, c.mode) == (target, kind)), None)


async def _service(client: httpx.AsyncClient, url: str, typed: str, cell: Cell) -> None:
    started = time.perf_counter()
    try:
        response = await client.get(f"{url}/suggest", params={"q": typed})
    except httpx.HTTPError as exc:
        cell.record_error(repr(exc))
        return
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        cell.record_error(f"{response.status_code} {response.text[:120]}")
        return
    cell.latencies_ms.append(elapsed)
    cell.response_bytes.append(len(response.content))


async def _raw(client: httpx.AsyncClient, es_url: str, alias: str, body: dict[str, Any], cell: Cell) -> None:
    started = time.perf_counter()
    response = await client.post(f"{es_url}/{alias}/_search", json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        cell.record_error(f"{response.status_code} {response.text[:120]}")
        return
    cell.latencies_ms.append(elapsed)
    cell.es_took_ms.append(float(response.json().get("took", 0)))


async def _wait_for_popular(url: str, probe: str, seconds: float = 120.0) -> int:
    """Ask until the API's background refresh has loaded the popular queries; their count for `probe`."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=30.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            items = (await client.get(f"{url}/suggest", params={"q": probe})).json()["suggestions"]
            found = sum(item["kind"] == "query" for item in items)
            if found:
                return found
            await asyncio.sleep(0.5)
    raise RuntimeError("the API never loaded the seeded popular queries")


def run_suggest(es: Any, es_url: str, alias: str, label: str, workdir: Path, log: Any, *,
                rounds: int, max_seconds: float) -> SuggestResults:
    settings = Settings(index_alias=alias, es_url=es_url)
    queries = popular_queries()
    searches = seed_log(es, settings, queries)
    log(f"  suggest: search log {LOG_INDEX} seeded with {len(queries)} popular queries ({searches} searches)")
    env = {"INDEX_ALIAS": alias, "ES_URL": es_url, "JOBS_INDEX": "bench-perf-jobs", "QUERY_LOG_INDEX": LOG_INDEX}
    api = ApiProcess(env, workdir / "api-suggest.log").start()
    try:
        return asyncio.run(_measure(api.url, es_url, alias, label, len(queries), searches, rounds, max_seconds,
                                    settings, log))
    finally:
        api.stop()


async def _measure(url: str, es_url: str, alias: str, label: str, popular: int, searches: int, rounds: int,
                   max_seconds: float, settings: Settings, log: Any) -> SuggestResults:
    await _wait_for_popular(url, TARGETS[0])
    results = SuggestResults(label, alias, popular, searches, rounds)
    every = [typed for kind in KINDS for typed in inputs(kind)]
    warm = [lambda client, t=t: _service(client, url, t, Cell("service", "warmup", "warm", 1)) for t in every]
    await run_jobs(warm, 1, max_seconds)  # every input once, unmeasured (the node's caches, the API's imports)
    rng = random.Random(5)
    for kind in KINDS:
        typed = [t for _ in range(rounds) for t in inputs(kind)]
        rng.shuffle(typed)
        service, raw = Cell("service", kind, "warm", 1), Cell("es", kind, "warm", 1)
        bodies = {t: titles_body(t, 8, timeout=settings.es_search_timeout) for t in set(typed)}
        jobs = []
        for i, t in enumerate(typed):  # paired, alternating which goes first
            pair = [lambda client, t=t, cell=service: _service(client, url, t, cell),
                    lambda client, body=bodies[t], cell=raw: _raw(client, es_url, alias, body, cell)]
            jobs += pair if i % 2 == 0 else pair[::-1]
        service.wall_seconds, service.stopped_early = await run_jobs(jobs, 1, max_seconds)
        raw.wall_seconds = service.wall_seconds
        results.cells += [service, raw]
        log(f"    suggest {kind:8s} service p50 {service.pct(50):.1f} p95 {service.pct(95):.1f} ms | "
            f"es p50 {raw.pct(50):.1f} p95 {raw.pct(95):.1f} ms (n={service.n})")
    return results


# --------------------------------------------------------------------------
# Verdicts and Markdown
# --------------------------------------------------------------------------

def judged(sizes: list[tuple[int, SuggestResults]]) -> list[tuple[int, SuggestResults]]:
    """The sizes the target applies to: those with at least TARGET_ARTICLES xwlb articles."""
    return [(n, r) for n, r in sizes if n >= TARGET_ARTICLES]


def verdict_parts(results: SuggestResults) -> tuple[bool, str]:
    p50s = {kind: cell.pct(50) for kind in KINDS if (cell := results.cell("service", kind)) and cell.n}
    met = len(p50s) == len(KINDS) and all(v is not None and v < P50_MAX_MS for v in p50s.values())
    detail = ", ".join(f"{kind} {value:.1f}" for kind, value in p50s.items() if value is not None)
    return met, f"p50 ms: {detail}"


def markdown(sizes: list[tuple[int, SuggestResults]]) -> list[str]:
    lines = ["## Suggestions", "",
             "GET /suggest as a citizen types (`bench/perf/suggest.py`): every keystroke towards "
             f"{len(TARGETS)} target words ({', '.join(TARGETS)}) is one request; four input kinds. The API holds "
             "a search log of popular queries above the privacy floor, so each request also reads the in-memory "
             "popular-query index at that size. c=1, after one unmeasured pass over every input; each service "
             "request paired with its title request sent to Elasticsearch directly (`es`), alternating which "
             "goes first. Latencies are client-side wall time in ms.", ""]
    if not sizes:
        return [*lines, "Not run.", ""]
    lines += ["| index | popular queries | kind | inputs × rounds | service p50 / p95 | es p50 / p95 | es took p50 |",
              "|---|---:|---|---:|---:|---:|---:|"]
    for _, r in sizes:
        for kind in KINDS:
            service, raw = r.cell("service", kind), r.cell("es", kind)
            if service is None or raw is None:
                continue
            took = sorted(raw.es_took_ms)[len(raw.es_took_ms) // 2] if raw.es_took_ms else 0.0
            lines.append(f"| {r.label} | {r.popular:,} | {kind} | {len(inputs(kind))} × {r.rounds} "
                         f"({service.n} ok, {service.errors} errors) | {service.pct(50):.1f} / {service.pct(95):.1f} "
                         f"| {raw.pct(50):.1f} / {raw.pct(95):.1f} | {took:.0f} |")
    return [*lines, ""]
