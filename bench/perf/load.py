"""The API as a real `uvicorn service.main:app` subprocess, and a bounded async load client.

Every request loop here works through a fixed list of requests with a fixed number of workers and
stops by itself (list exhausted, or the cell's time budget spent: then it stops *starting*
requests and waits for those in flight). Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from elasticsearch import AsyncElasticsearch

from bench.perf.machine import process_memory, process_tree
from govsearch import apiprocess
from govsearch.paths import PROJECT_ROOT
from govsearch.settings import Settings
from service.backend import ElasticsearchBackend
from service.query import SearchRequest
from service.search import Searcher, SynonymRules

# --------------------------------------------------------------------------
# The API process
# --------------------------------------------------------------------------

class ApiProcess(apiprocess.ApiProcess):
    """The API for a measurement: no portal keys, admin or CORS from the caller's environment, no
    access log, `workers` uvicorn worker processes (1: the dev default; the Docker image runs 2);
    optionally profiled (`bench.perf.profiled_app`, stats written at stop)."""

    def __init__(self, env: dict[str, str], log_path: Path, *, startup_timeout: float = 300.0,
                 profile_to: Path | None = None, root: Path = PROJECT_ROOT, workers: int = 1) -> None:
        overrides: dict[str, str | None] = {**env, "API_KEYS_FILE": None, "ADMIN_TOKEN": None,
                                            "CORS_ORIGINS": None, "REQUIRE_API_KEY": "false",
                                            "KEYLESS_RATE_LIMIT_PER_MINUTE": "0"}
        app = "service.main:app"
        if profile_to is not None:
            overrides["PERF_PROFILE_OUT"] = str(profile_to)
            app = "bench.perf.profiled_app:app"
        super().__init__(overrides, log_path, app=app, startup_timeout=startup_timeout,
                         uvicorn_args=("--workers", str(workers), "--no-access-log", "--log-level", "warning"),
                         root=root)

    def start(self) -> ApiProcess:
        super().start()
        # One request outside the query mix, so that one-off first-request costs of a fresh process
        # (lazy imports, the first look at the index mapping) land in no measured cell. bm25 mode:
        # it fills no query-embedding cache entry for any query of the mix.
        with httpx.Client(timeout=30.0, trust_env=False) as client:
            client.get(f"{self.url}/search", params={"q": "预热请求", "mode": "bm25"})
        return self

    def memory(self) -> dict[str, int | None]:
        """RSS and peak RSS of the largest of the API's processes (each worker loads the model itself)."""
        readings = [process_memory(pid) for pid in process_tree(self.pid)]
        return {key: max((r[key] for r in readings if r[key] is not None), default=None)
                for key in ("rss", "peak_rss")}


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

@dataclass
class Cell:
    """One (target, mode, cache state, concurrency) run: latencies of the successful requests."""
    target: str  # "service" or "es"
    mode: str
    cache: str  # "cold" or "warm"
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    shed: int = 0  # 503 `overloaded` answers (admission control), counted apart from errors
    degraded: int = 0
    wall_seconds: float = 0.0
    es_took_ms: list[float] = field(default_factory=list)
    stopped_early: bool = False
    cpu: dict[str, Any] = field(default_factory=dict)  # CpuMeter reading over the cell
    response_bytes: list[int] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.latencies_ms)

    def pct(self, q: float) -> float | None:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else None

    @property
    def took_p50(self) -> float | None:
        """Elasticsearch's own median `took` (the upper middle value when the count is even)."""
        return sorted(self.es_took_ms)[len(self.es_took_ms) // 2] if self.es_took_ms else None

    @property
    def throughput(self) -> float:
        """Successful requests per second of wall time (for paired c=1 runs: per second of this
        target's own request time, as if run alone)."""
        return self.n / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def record_error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(text[:200])


# --------------------------------------------------------------------------
# Request builders
# --------------------------------------------------------------------------

Replay = tuple[bytes, ...]
"""The `_msearch` NDJSON bodies the service sends Elasticsearch for one search, in order."""


class _FixedVector:
    def __init__(self, vector: list[float] | None) -> None:
        self.vector = vector

    async def embed(self, text: str) -> list[float]:
        if self.vector is None:
            raise RuntimeError("no vector")
        return self.vector

    async def refresh_model(self) -> None:
        """One model throughout the benchmark."""


class _RecordingBackend(ElasticsearchBackend):
    """The real backend, keeping every `_msearch` it sends (target and bodies) in order."""

    def __init__(self, es: AsyncElasticsearch) -> None:
        super().__init__(es)
        self.sent: list[bytes] = []

    async def msearch(self, index: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        lines: list[str] = []
        for body in bodies:
            lines.append(json.dumps({"index": index}))
            lines.append(json.dumps(body, ensure_ascii=False))
        self.sent.append(("\n".join(lines) + "\n").encode("utf-8"))
        return await super().msearch(index, bodies)


async def service_requests(settings: Settings, es: AsyncElasticsearch, q: str, mode: str,
                           vector: list[float] | None, synonyms: SynonymRules | None) -> Replay:
    """The exact `_msearch` requests the service sends for `GET /search?q=…&mode=…` (defaults
    otherwise): built by `service.search.Searcher` itself from the `service.query` builders, with
    the query vector computed by the same model, against the live index. In vector and hybrid
    mode that is the candidate request and then the page fetch, whose passage ids depend on the
    candidates: recorded here from the real answers, so a replay asks for exactly what the service
    asks for on this index. `synonyms`: the rules the service expands queries with (`service.synonyms`)."""
    backend = _RecordingBackend(es)
    await Searcher(backend, _FixedVector(vector), settings, synonyms=synonyms).search(SearchRequest(q=q, mode=mode))
    return tuple(backend.sent)


# --------------------------------------------------------------------------
# Load loops
# --------------------------------------------------------------------------

Request = Callable[[httpx.AsyncClient], Awaitable[None]]


async def _service_request(client: httpx.AsyncClient, url: str, q: str, mode: str, cell: Cell) -> None:
    started = time.perf_counter()
    try:
        response = await client.get(f"{url}/search", params={"q": q, "mode": mode})
    except httpx.HTTPError as exc:
        cell.record_error(f"{type(exc).__name__}: {exc}")
        return
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code == 503 and _error_code(response) == "overloaded":
        cell.shed += 1
        return
    if response.status_code != 200:
        cell.record_error(f"HTTP {response.status_code}: {response.text}")
        return
    cell.latencies_ms.append(elapsed)
    cell.response_bytes.append(len(response.content))
    if response.json().get("degraded"):
        cell.degraded += 1


def _error_code(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


async def _es_request(client: httpx.AsyncClient, es_url: str, replay: Replay, cell: Cell) -> None:
    """The service's Elasticsearch requests for one search, one after the other as it sends them."""
    elapsed = took = 0.0
    received = 0
    for body in replay:
        started = time.perf_counter()
        try:
            response = await client.post(f"{es_url}/_msearch", content=body,
                                         headers={"Content-Type": "application/x-ndjson"})
        except httpx.HTTPError as exc:
            cell.record_error(f"{type(exc).__name__}: {exc}")
            return
        elapsed += (time.perf_counter() - started) * 1000  # the whole body received, not parsed
        if response.status_code != 200:
            cell.record_error(f"HTTP {response.status_code}: {response.text}")
            return
        data = response.json()
        failed = [r for r in data.get("responses", []) if "error" in r]
        if failed:
            cell.record_error(f"msearch error: {failed[0]['error']}")
            return
        received += len(response.content)
        took += float(max(r.get("took", 0) for r in data["responses"]))
    cell.latencies_ms.append(elapsed)
    cell.response_bytes.append(received)
    cell.es_took_ms.append(took)


async def run_jobs(jobs: Sequence[Callable[[httpx.AsyncClient], Awaitable[None]]], concurrency: int,
               max_seconds: float) -> tuple[float, bool]:
    """Run `jobs` with `concurrency` workers; returns (wall seconds, stopped early)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    position = 0
    stopped = False
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0), trust_env=False) as client:
        started = time.perf_counter()
        deadline = started + max_seconds

        async def worker() -> None:
            nonlocal position, stopped
            while position < len(jobs):
                if time.perf_counter() > deadline:
                    stopped = True
                    return
                job = jobs[position]
                position += 1
                await job(client)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, stopped


async def service_cell(url: str, mode: str, cache: str, concurrency: int, queries: Sequence[str],
                       max_seconds: float) -> Cell:
    cell = Cell("service", mode, cache, concurrency)
    jobs = [lambda client, q=q: _service_request(client, url, q, mode, cell) for q in queries]
    cell.wall_seconds, cell.stopped_early = await run_jobs(jobs, concurrency, max_seconds)
    return cell


async def es_cell(es_url: str, mode: str, cache: str, concurrency: int, replays: Sequence[Replay],
                  max_seconds: float) -> Cell:
    cell = Cell("es", mode, cache, concurrency)
    jobs = [lambda client, r=r: _es_request(client, es_url, r, cell) for r in replays]
    cell.wall_seconds, cell.stopped_early = await run_jobs(jobs, concurrency, max_seconds)
    return cell


async def variant_cells(es_url: str, label: str, variants: dict[str, dict[str, Replay]], queries: Sequence[str],
                        max_seconds: float, concurrency: int = 1) -> list[Cell]:
    """Concurrency 1, each query sent in every request variant back to back (rotating which goes
    first): what each part of a request costs Elasticsearch, side by side."""
    if concurrency > 1:  # one variant after the other, each with `concurrency` workers
        out = []
        for name, bodies in variants.items():
            cell = await es_cell(es_url, f"{label}: {name}", "warm", concurrency, [bodies[q] for q in queries],
                                 max_seconds)
            cell.target = "es-variant"
            out.append(cell)
        return out
    cells = {name: Cell("es-variant", f"{label}: {name}", "warm", 1) for name in variants}
    names = list(variants)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), trust_env=False) as client:
        deadline = time.perf_counter() + max_seconds
        for i, q in enumerate(queries):
            if time.perf_counter() > deadline:
                for cell in cells.values():
                    cell.stopped_early = True
                break
            for name in names[i % len(names):] + names[:i % len(names)]:
                await _es_request(client, es_url, variants[name][q], cells[name])
    for cell in cells.values():
        cell.wall_seconds = sum(cell.latencies_ms) / 1000
    return list(cells.values())


def rewrite_msearch(replay: Replay, change: Callable[[dict[str, Any]], None]) -> Replay:
    """The same `_msearch` requests with `change` applied to every search body (not the headers)."""
    rewritten = []
    for body in replay:
        lines = body.decode("utf-8").strip("\n").split("\n")
        out = []
        for i, line in enumerate(lines):
            if i % 2:
                search = json.loads(line)
                change(search)
                line = json.dumps(search, ensure_ascii=False)
            out.append(line)
        rewritten.append(("\n".join(out) + "\n").encode("utf-8"))
    return tuple(rewritten)


async def paired_cells(url: str, es_url: str, mode: str, cache: str, queries: Sequence[str],
                       bodies: dict[str, Replay], max_seconds: float) -> tuple[Cell, Cell]:
    """Concurrency 1, the service request and the equivalent direct Elasticsearch request one
    after the other for every query (which goes first alternates), so slow spells on a shared
    machine hit both sides alike. Throughput is each side's requests over its own request time."""
    service = Cell("service", mode, cache, 1)
    raw = Cell("es", mode, cache, 1)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), trust_env=False) as client:
        deadline = time.perf_counter() + max_seconds
        for i, q in enumerate(queries):
            if time.perf_counter() > deadline:
                service.stopped_early = raw.stopped_early = True
                break
            order = [("service", q), ("es", q)] if i % 2 == 0 else [("es", q), ("service", q)]
            for side, text in order:
                if side == "service":
                    await _service_request(client, url, text, mode, service)
                else:
                    await _es_request(client, es_url, bodies[text], raw)
    service.wall_seconds = sum(service.latencies_ms) / 1000
    raw.wall_seconds = sum(raw.latencies_ms) / 1000
    return service, raw
