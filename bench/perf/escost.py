"""`python -m bench.perf.escost`: what each Elasticsearch request of a hybrid search costs the node, per
configuration, and the hybrid load test at 16 clients for those configurations side by side.

A configuration is a set of setting overrides (`KNN_NUM_CANDIDATES=200`, …; the first one given is
the reference, usually the defaults). For each, the service's own `Searcher` (with the learned
ranker RANKER_MODEL names) records the exact bodies it sends for every query of the benchmark mix
(`bench.perf.queries`), split by part: query understanding's names, the BM25 candidates, the kNN
candidates, the page fetch (ids, highlighted), the typo check. Each part's bodies are then sent
alone, back to back at concurrency 1, and the node's own CPU (from /proc, `bench.perf.machine`) over
the loop is divided by the requests: CPU milliseconds per request, the figure a 2-core box cannot
fake when its wall times swing with other users' load. The configurations and parts take turns in
every pass (order rotated), so slow spells hit all alike.

Candidate overlap: for each configuration, the share of the reference's candidate articles (per
retriever, per query) that it returns too: a relevance proxy beside `bench.relevance`.

`--load`: one API process per configuration (settings as environment), the warm query mix at
`--concurrency` clients, the configurations alternating for `--rounds` rounds; req/s, p50/p99,
errors and shed per cell, with the load average: before/after in one run, one table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from elasticsearch import AsyncElasticsearch

from bench.perf import queries as query_mix
from bench.perf.load import ApiProcess, Cell, service_cell
from bench.perf.machine import CpuMeter, cores_text, load_average
from govsearch.paths import PROJECT_ROOT
from govsearch.settings import Settings, get_settings
from service import ranking
from service.backend import Body, ElasticsearchBackend
from service.query import SearchRequest, hit_source
from service.search import Searcher
from service.synonyms import Synonyms

PARTS = ("understanding", "bm25", "knn", "page", "typo")


def part_of(body: Body) -> str:
    """Which part of a search a recorded body is (see the module docstring)."""
    if "knn" in body:
        return "knn"
    if "suggest" in body or body.get("track_total_hits") == 1000:
        return "typo"
    if "ids" in body.get("query", {}):
        return "page"
    if body.get("size") == 0 and "aggs" in body:
        return "understanding"
    return "bm25"


@dataclass(frozen=True)
class Config:
    label: str
    overrides: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Config:
        """`label:NAME=VALUE,NAME=VALUE` or `label:` (the defaults)."""
        label, _, rest = text.partition(":")
        pairs = [item.split("=", 1) for item in rest.split(",") if item.strip()]
        return cls(label.strip() or "defaults", {name.strip().upper(): value.strip() for name, value in pairs})

    def settings(self, base: Settings) -> Settings:
        return Settings(**{**base.model_dump(), **{name.lower(): value for name, value in self.overrides.items()}})


class _Vectors:
    """The query embedder, computed in this process once per text (understanding may shorten a query)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.vectors: dict[str, list[float]] = {}

    async def embed(self, text: str) -> list[float]:
        if text not in self.vectors:
            self.vectors[text] = self.model.embed_query(text).tolist()
        return self.vectors[text]

    async def refresh_model(self) -> None:
        """One model throughout the benchmark."""


class _Recorder(ElasticsearchBackend):
    """The real backend, keeping each body it sends with the index it went to."""

    def __init__(self, es: AsyncElasticsearch) -> None:
        super().__init__(es)
        self.sent: list[tuple[str, Body]] = []
        self.candidates: dict[str, list[list[str]]] = {}  # part -> each response's article ids

    async def msearch(self, index: str, bodies: Sequence[Body]) -> list[Body]:
        responses = await super().msearch(index, bodies)
        self.sent += [(index, body) for body in bodies]
        for body, response in zip(bodies, responses):
            if part_of(body) in ("bm25", "knn"):
                self.candidates.setdefault(part_of(body), []).append(
                    [hit_source(hit)[0]["article_id"] for hit in response["hits"]["hits"]])
        return responses


@dataclass
class Recorded:
    """One configuration's bodies per part (each `(index, body)`), and its candidate articles per query."""
    bodies: dict[str, list[tuple[str, Body]]]
    candidates: dict[str, dict[str, list[str]]]  # part -> query -> article ids in order (deduplicated)


async def record(settings: Settings, queries: list[str], vectors: _Vectors) -> Recorded:
    """The bodies one `Searcher` (as the API holds one: query understanding's names read once, then
    cached) sends for `queries`, in hybrid mode with the defaults otherwise."""
    es = AsyncElasticsearch(settings.es_url or f"http://127.0.0.1:{settings.es_port}", request_timeout=60)
    ranker = ranking.load(settings.ranker_model)
    out = Recorded({part: [] for part in PARTS}, {"bm25": {}, "knn": {}})
    backend = _Recorder(es)
    searcher = Searcher(backend, vectors, settings, ranker=ranker,
                        synonyms=Synonyms(es, settings.synonyms_index, settings.synonyms_file))
    try:
        for q in queries:
            backend.sent, backend.candidates = [], {}
            await searcher.search(SearchRequest(q=q))
            for index, body in backend.sent:
                out.bodies[part_of(body)].append((index, body))
            for part, lists in backend.candidates.items():
                out.candidates[part][q] = list(dict.fromkeys(a for hits in lists for a in hits))
    finally:
        await es.close()
    return out


@dataclass
class PartCost:
    cpu_ms: list[float] = field(default_factory=list)  # per pass: node CPU ms per request
    latency_ms: list[float] = field(default_factory=list)
    requests: int = 0


# Requests per measured loop at least: the node's CPU is read in clock ticks (10 ms), so a loop must be long.
MIN_REQUESTS = 100


def _send(client: httpx.Client, bodies: list[tuple[str, Body]], cost: PartCost) -> None:
    requests = bodies * -(-MIN_REQUESTS // len(bodies))  # the part's bodies, repeated to MIN_REQUESTS or more
    meter = CpuMeter(str(client.base_url)).start()
    for index, body in requests:
        payload = orjson.dumps({"index": index}) + b"\n" + orjson.dumps(body) + b"\n"
        started = time.perf_counter()
        response = client.post("/_msearch", params={"include_named_queries_score": "true"}, content=payload,
                               headers={"Content-Type": "application/x-ndjson"})
        cost.latency_ms.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        if "error" in response.json()["responses"][0]:
            raise RuntimeError(response.json()["responses"][0]["error"])
    reading = meter.stop()
    if reading.get("es") is None:
        raise RuntimeError("the node's CPU is not readable (Elasticsearch must run on this machine)")
    cost.cpu_ms.append(reading["es"] * reading["wall"] / len(requests) * 1000)  # type: ignore[operator]
    cost.requests = len(bodies)


def measure(es_url: str, recorded: dict[str, Recorded], passes: int, log: Any) -> dict[str, dict[str, PartCost]]:
    costs = {label: {part: PartCost() for part in PARTS} for label in recorded}
    cells = [(label, part) for part in PARTS for label in recorded if recorded[label].bodies[part]]
    with httpx.Client(base_url=es_url, timeout=60, trust_env=False) as client:
        for label, part in cells:  # warm-up, not measured: caches, JIT
            _send(client, recorded[label].bodies[part], PartCost())
        for n in range(passes):
            for label, part in cells[n % len(cells):] + cells[:n % len(cells)]:
                _send(client, recorded[label].bodies[part], costs[label][part])
            log(f"  pass {n + 1}/{passes} done, load average {load_average()[0]:.1f}")
    return costs


def overlap(reference: Recorded, other: Recorded, part: str) -> float | None:
    """Mean share of the reference's candidate articles (per query) that `other` returns too."""
    shares = [len(set(ids) & set(other.candidates[part].get(q, ()))) / len(ids)
              for q, ids in reference.candidates[part].items() if ids]
    return statistics.mean(shares) if shares else None


async def load_cells(configs: list[Config], base_env: dict[str, str], concurrency: int, rounds: int,
                     requests: int, cell_seconds: float, workdir: Path, log: Any) -> list[tuple[str, Cell, float]]:
    """Every configuration's API at once; the warm mix at `concurrency` clients, configurations alternating."""
    apis = {c.label: ApiProcess({**base_env, **c.overrides}, workdir / f"api-{i}.log").start()
            for i, c in enumerate(configs)}
    out: list[tuple[str, Cell, float]] = []
    try:
        distinct = query_mix.distinct()
        for api in apis.values():  # every query once: the query-embedding cache warm, not measured
            await service_cell(api.url, "hybrid", "warmup", 4, distinct, cell_seconds)
        mix = query_mix.mix(requests)
        for n in range(rounds):
            order = configs if n % 2 == 0 else configs[::-1]
            for config in order:
                cpu = CpuMeter(base_env["ES_URL"], apis[config.label].pid).start()
                cell = await service_cell(apis[config.label].url, "hybrid", "warm", concurrency, mix, cell_seconds)
                cell.cpu = cpu.stop()
                out.append((config.label, cell, load_average()[0]))
                log(f"  round {n + 1} {config.label}: {cell.throughput:.1f} req/s, p99 {cell.pct(99) or 0:.0f} ms, "
                    f"{cell.errors} errors, {cell.shed} shed, load {out[-1][2]:.1f}")
    finally:
        for api in apis.values():
            api.stop()
    return out


def _fmt(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.1f}" for v in values)


def render(args: argparse.Namespace, configs: list[Config], recorded: dict[str, Recorded],
           costs: dict[str, dict[str, PartCost]], loads: list[tuple[str, Cell, float]], started: str,
           load_start: tuple[float, float, float]) -> str:
    ref = configs[0].label
    lines = [
        "# Elasticsearch cost per hybrid search, by part and configuration",
        "",
        f"Run {started}, `{_command()}`, index `{args.alias}`; load average {load_start[0]:.1f} at the start, "
        f"{load_average()[0]:.1f} at the end (1-min; 2 cores shared with other users).",
        "",
        "Configurations (setting overrides; the first is the reference):",
        "",
        *[f"- **{c.label}**: " + (", ".join(f"`{k}={v}`" for k, v in c.overrides.items()) or "defaults")
          for c in configs],
        "",
        f"Node CPU ms per request, median of {args.passes} passes (the passes in brackets), each part's "
        f"{len(query_mix.distinct())}-query bodies sent alone at concurrency 1 (repeated to {MIN_REQUESTS} or more per "
        "loop); requests = bodies recorded "
        "for the mix (the typo check runs only when a search's passages lack a pair of the query's words):",
        "",
        "| part | " + " | ".join(c.label for c in configs) + " |",
        "|---|" + "---:|" * len(configs),
    ]
    total = {c.label: 0.0 for c in configs}
    queries = len(query_mix.distinct())
    for part in PARTS:
        row = []
        for c in configs:
            cost = costs[c.label][part]
            if not cost.cpu_ms:
                row.append("–")
                continue
            median = statistics.median(cost.cpu_ms)
            total[c.label] += median * cost.requests / queries
            row.append(f"{median:.1f} ({_fmt(cost.cpu_ms)}), n={cost.requests}")
        lines.append(f"| {part} | " + " | ".join(row) + " |")
    lines.append("| **per search** (Σ part × requests / queries) | "
                 + " | ".join(f"**{total[c.label]:.1f}**" for c in configs) + " |")
    lines += ["", f"Candidate overlap with **{ref}** (share of its candidate articles per query, mean):", "",
              "| retriever | " + " | ".join(c.label for c in configs[1:]) + " |",
              "|---|" + "---:|" * (len(configs) - 1)]
    for part in ("bm25", "knn"):
        values = [overlap(recorded[ref], recorded[c.label], part) for c in configs[1:]]
        lines.append(f"| {part} | " + " | ".join("–" if v is None else f"{v:.3f}" for v in values) + " |")
    if loads:
        lines += ["", f"Hybrid through the API (`uvicorn`, one process per configuration), {args.requests} warm "
                  f"requests per cell at {args.concurrency} clients, configurations alternating:", "",
                  "| round | configuration | req/s | p50 ms | p99 ms | errors | shed (503 overloaded) | "
                  "cores used (of 2) | load average |", "|---:|---|---:|---:|---:|---:|---:|---|---:|"]
        for i, (label, cell, load) in enumerate(loads):
            lines.append(f"| {i // len(configs) + 1} | {label} | {cell.throughput:.1f} | {cell.pct(50) or 0:.0f} | "
                         f"{cell.pct(99) or 0:.0f} | {cell.errors} | {cell.shed} | {cores_text(cell.cpu)} | "
                         f"{load:.1f} |")
    return "\n".join(lines) + "\n"


def _command() -> str:
    return "python -m bench.perf.escost " + " ".join(sys.argv[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.escost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alias", default="bench-perf-q20000", help="the index to query (default: the 20k "
                        "query index `python -m bench.perf` builds)")
    parser.add_argument("--config", action="append", type=Config.parse, default=[], metavar="LABEL:NAME=V,...",
                        help="a configuration (repeatable; the first is the reference; default: the defaults)")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--load", action="store_true", help="also the hybrid load test through the API")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=400, help="requests per load cell (default 400)")
    parser.add_argument("--cell-seconds", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results" / "perf-escost.md")
    args = parser.parse_args(argv)
    configs: list[Config] = args.config or [Config("defaults", {})]

    def log(message: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    base = Settings(**{**get_settings().model_dump(), "index_alias": args.alias})
    es_url = base.es_url or f"http://127.0.0.1:{base.es_port}"
    started, load_start = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), load_average()
    from indexer.embeddings import load_embedder

    model = load_embedder(base.embedding_model, base.embedding_cache_dir, threads=base.embedding_threads)
    queries = query_mix.distinct()
    vectors = _Vectors(model)
    recorded = {}
    for config in configs:
        log(f"recording {config.label}")
        recorded[config.label] = asyncio.run(record(config.settings(base), queries, vectors))
    log("measuring node CPU per part")
    costs = measure(es_url, recorded, args.passes, log)
    loads: list[tuple[str, Cell, float]] = []
    if args.load:
        import tempfile

        log(f"load: hybrid at {args.concurrency} clients")
        env = {"INDEX_ALIAS": args.alias, "ES_URL": es_url, "EMBEDDING_MODEL": base.embedding_model,
               "JOBS_INDEX": "bench-perf-jobs"}
        with tempfile.TemporaryDirectory(prefix="escost-") as workdir:
            loads = asyncio.run(load_cells(configs, env, args.concurrency, args.rounds, args.requests,
                                           args.cell_seconds, Path(workdir), log))
    text = render(args, configs, recorded, costs, loads, started, load_start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    log(f"wrote {os.path.relpath(args.out, Path.cwd())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
