"""The soak itself: one API subprocess, four activities at once, everything recorded with its time.

* queries: the judged queries in the three modes, sent open-loop at a steady rate (a slow answer
  never delays the next request), each recorded with its status or failure kind and latency;
* upserts: one new article per second through PUT /admin/documents, each carrying a unique word;
* article count: GET /admin/stats every 2 s;
* a full reindex (POST /admin/reindex) early on, then Elasticsearch stopped and started once
  (`scripts/devnode.sh down` / `up` on the soak's own ES_PORT) once the reindex has ended.

At the end every acknowledged upsert is looked up by id and by its word (bm25 search).
Everything is loopback: the API on a free 127.0.0.1 port, Elasticsearch on 127.0.0.1:ES_PORT.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from govsearch.apiprocess import ApiProcess
from govsearch.paths import CACHE_DIR, PROJECT_ROOT, SAMPLE_CORPUS, XWLB_CORPUS

QUERIES_FILE = PROJECT_ROOT / "bench" / "relevance" / "queries.json"
# Not a held-out year (2012 and 2013 are): only indexed as load, never looked at.
XWLB_YEAR = "xwlb-2016.jsonl"
MODES = ("hybrid", "bm25", "vector")
REQUEST_TIMEOUT = 10.0


@dataclass
class SoakConfig:
    duration: float  # seconds of load
    rate: float  # queries per second
    es_port: int
    outage_seconds: float  # how long Elasticsearch stays down
    reindex_at: float = 10.0  # seconds after the start
    # xwlb articles the reindex adds to the sample (each embedded afresh, into a cold cache), so that the build
    # overlaps a good part of the load: ~1 min on a quiet 2-core machine, where 300 took 12 s.
    extra_articles: int = 1_500
    alias: str = "soak-gov-articles"
    jobs_index: str = "soak-gov-search-jobs"
    work_dir: Path = CACHE_DIR / "soak"


@dataclass
class Sample:
    t: float  # seconds since the start
    kind: str  # "200", "503 overloaded", ..., or a failure without an answer: "timeout", "connect", ...
    latency: float
    mode: str = ""


@dataclass
class SoakResult:
    config: SoakConfig
    started_at: str = ""
    queries: list[Sample] = field(default_factory=list)
    upserts: list[Sample] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # ids of upserts answered 200/201
    counts: list[tuple[float, int | None]] = field(default_factory=list)  # (t, articles) None = no answer
    count_before_reindex: int | None = None
    reindex: dict[str, Any] = field(default_factory=dict)  # start, end, state, job_id
    outage: dict[str, float] = field(default_factory=dict)  # down_start, down_done, up_start, up_done
    missing_at_end: list[str] = field(default_factory=list)
    unfound_by_search: list[str] = field(default_factory=list)
    metrics_excerpt: list[str] = field(default_factory=list)


def _failure_kind(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    return type(exc).__name__


def _kind(response: httpx.Response) -> str:
    """The status, with the error's code when there is one: `503 overloaded` and `503 unavailable` differ."""
    if response.status_code < 400:
        return str(response.status_code)
    try:
        return f"{response.status_code} {response.json()['error']['code']}"
    except (ValueError, KeyError, TypeError):
        return str(response.status_code)


def _queries() -> list[str]:
    return [q["query"] for q in json.loads(QUERIES_FILE.read_text(encoding="utf-8"))["queries"]]


def _devnode(command: str, es_port: int) -> None:
    subprocess.run([str(PROJECT_ROOT / "scripts" / "devnode.sh"), command], check=True, cwd=PROJECT_ROOT,
                   env={**os.environ, "ES_PORT": str(es_port)}, stdout=subprocess.DEVNULL)


class Soak:
    def __init__(self, config: SoakConfig) -> None:
        self.config = config
        self.result = SoakResult(config)
        self.token = secrets.token_urlsafe(24)
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.t0 = 0.0
        self.stop = asyncio.Event()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def run(self) -> SoakResult:
        config = self.config
        config.work_dir.mkdir(parents=True, exist_ok=True)
        self.sources = self._reindex_sources()
        env = {"ES_PORT": str(config.es_port), "ES_URL": None, "INDEX_ALIAS": config.alias,
               "JOBS_INDEX": config.jobs_index, "DATA_ROOTS": f"{SAMPLE_CORPUS},{config.work_dir / 'reindex'}",
               "ADMIN_TOKEN": self.token, "KEYLESS_RATE_LIMIT_PER_MINUTE": "0",
               "METRICS_TOKEN": self.token, "API_KEYS_FILE": None, "REQUIRE_API_KEY": None,
               # A cold embedding cache of its own: the reindex really embeds, so it runs a while.
               "EMBEDDING_CACHE_DIR": str(config.work_dir / f"embeddings-{secrets.token_hex(3)}")}
        self._ensure_index({**env, "EMBEDDING_CACHE_DIR": None})
        with ApiProcess(env, config.work_dir / "api.log", startup_timeout=300,
                        uvicorn_args=("--log-level", "warning", "--no-access-log")) as api, \
                httpx.Client(base_url=api.url, timeout=60, trust_env=False) as client:
            self.result.started_at = time.strftime("%Y-%m-%d %H:%M:%S")
            asyncio.run(self._soak(api.url))
            self._check_end(client)
        return self.result

    def _reindex_sources(self) -> list[str]:
        """The sample corpus plus the first `extra_articles` records of one xwlb year, as a file of the soak's."""
        sources = [str(SAMPLE_CORPUS)]
        if self.config.extra_articles > 0:
            extra = self.config.work_dir / "reindex" / f"xwlb-first-{self.config.extra_articles}.jsonl"
            extra.parent.mkdir(parents=True, exist_ok=True)
            with (XWLB_CORPUS / XWLB_YEAR).open(encoding="utf-8") as lines:
                extra.write_text("".join(line for _, line in zip(range(self.config.extra_articles), lines)),
                                 encoding="utf-8")
            sources.append(str(extra))
        return sources

    def _ensure_index(self, env: dict[str, str | None]) -> None:
        """The sample corpus behind the soak's alias (built once by the indexer CLI, then kept)."""
        full_env = {**os.environ, **{k: v for k, v in env.items() if v is not None}, "HF_HUB_OFFLINE": "1"}
        full_env.pop("ES_URL", None)
        subprocess.run([sys.executable, "-m", "indexer", "build", "--source", str(SAMPLE_CORPUS), "--if-missing"],
                       check=True, cwd=PROJECT_ROOT, env=full_env, stdout=subprocess.DEVNULL)

    async def _soak(self, url: str) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT, trust_env=False,
                                     limits=httpx.Limits(max_connections=64)) as client:
            for mode in MODES:  # warm-up, not counted: first connections, first query of each mode
                await client.get("/search", params={"q": "预热", "mode": mode})
            self.t0 = time.monotonic()
            tasks = [asyncio.create_task(work(client)) for work in (self._query_load, self._upserts, self._counts)]
            scenario = asyncio.create_task(self._scenario(client))
            await asyncio.sleep(self.config.duration)
            self.stop.set()
            await asyncio.gather(*tasks)
            await scenario

    async def _query_load(self, client: httpx.AsyncClient) -> None:
        queries = _queries()
        pending: set[asyncio.Task[None]] = set()
        n = 0
        while not self.stop.is_set():
            mode = MODES[n % len(MODES)]
            task = asyncio.create_task(self._one_query(client, queries[n % len(queries)], mode))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
            await asyncio.sleep(max(0.0, n / self.config.rate - self.now()))
        await asyncio.gather(*pending)

    async def _one_query(self, client: httpx.AsyncClient, q: str, mode: str) -> None:
        t = self.now()
        try:
            response = await client.get("/search", params={"q": q, "mode": mode, "size": 10})
            kind = _kind(response)
        except httpx.HTTPError as exc:
            kind = _failure_kind(exc)
        self.result.queries.append(Sample(t, kind, self.now() - t, mode))

    async def _upserts(self, client: httpx.AsyncClient) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            article_id = f"soak-{n:05d}"
            word = f"soakword{n:05d}"
            doc = {"title": f"港西镇巡检记录 {word}", "body": f"港西镇今日完成第{n}次安全巡检，记录编号 {word}。" * 2,
                   "date": "2024-06-01", "town": "港西镇"}
            t = self.now()
            try:
                response = await client.put(f"/admin/documents/{article_id}", json=doc, headers=self.auth,
                                            timeout=60)
                kind = _kind(response)
            except httpx.HTTPError as exc:
                kind = _failure_kind(exc)
            self.result.upserts.append(Sample(t, kind, self.now() - t))
            if kind in ("200", "201"):
                self.result.acknowledged.append(article_id)
            await asyncio.sleep(max(0.0, 1.0 - (self.now() - t)))

    async def _counts(self, client: httpx.AsyncClient) -> None:
        while not self.stop.is_set():
            t = self.now()
            try:
                response = await client.get("/admin/stats", headers=self.auth)
                count = response.json()["articles"] if response.status_code == 200 else None
            except httpx.HTTPError:
                count = None
            self.result.counts.append((t, count))
            await asyncio.sleep(2.0)

    async def _scenario(self, client: httpx.AsyncClient) -> None:
        """The full reindex, then (once it ended) the outage, both well inside the duration."""
        config = self.config
        await asyncio.sleep(config.reindex_at)
        stats = await client.get("/admin/stats", headers=self.auth)
        self.result.count_before_reindex = stats.json()["articles"]
        self.result.reindex["start"] = self.now()
        started = await client.post("/admin/reindex", headers=self.auth, json={"sources": self.sources})
        job_id = started.json().get("job_id")
        self.result.reindex["job_id"] = job_id
        state = started.json().get("state", f"refused {started.status_code}")
        latest_outage = config.duration * 0.6
        while state in ("queued", "running") and self.now() < latest_outage:
            await asyncio.sleep(1.0)
            state = (await client.get(f"/admin/jobs/{job_id}", headers=self.auth)).json()["state"]
        self.result.reindex.update(end=self.now(), state=state)
        await asyncio.sleep(max(5.0, config.duration * 0.45 - self.now()))
        outage = self.result.outage
        outage["down_start"] = self.now()
        await asyncio.to_thread(_devnode, "down", config.es_port)
        outage["down_done"] = self.now()
        await asyncio.sleep(config.outage_seconds)
        outage["up_start"] = self.now()
        await asyncio.to_thread(_devnode, "up", config.es_port)
        outage["up_done"] = self.now()

    def _check_end(self, client: httpx.Client) -> None:
        deadline = time.monotonic() + 120
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(1)
        for article_id in self.result.acknowledged:
            if client.get(f"/articles/{article_id}").status_code != 200:
                self.result.missing_at_end.append(article_id)
                continue
            word = "soakword" + article_id.removeprefix("soak-")
            hits = client.get("/search", params={"q": word, "mode": "bm25", "size": 5}).json().get("hits", [])
            if article_id not in {hit["id"] for hit in hits}:
                self.result.unfound_by_search.append(article_id)
        metrics = client.get("/metrics", headers=self.auth).text
        self.result.metrics_excerpt = [line for line in metrics.splitlines() if line.startswith((
            "govsearch_search_shed_total", "govsearch_search_admitted_total", "govsearch_elasticsearch_errors_total",
            "govsearch_query_embedding_cache", "govsearch_reindex_jobs"))]
