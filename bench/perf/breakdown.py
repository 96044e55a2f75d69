"""`python -m bench.perf.breakdown`: where a warm search's wall time goes, per mode, at one client.

The API's own `Runtime` (the query-embedding cache, the learned ranker, synonyms, query understanding,
PAGE_CACHE_SIZE, ...) is opened in this process on the index `--alias`, and its `Searcher` is rebuilt
around timing wrappers of its seams: the backend (each `_msearch` round trip: the candidate search, the
page fetch, any other request), the query embedder (a cache lookup when warm) and the ranker as the
searcher holds it (the model, or its remembered scores: `service.rankmemo`). After one unmeasured pass
over every distinct query of the perf mix per mode, every query is searched `--passes` times per mode,
one at a time (modes alternating pass by pass), and each part's time per search is reported (median over
the searches, and mean); "rest" is the search's wall time minus the parts: grouping, fusion, the
plausibility filter, facets, the response and the typo check's reading. HTTP and the route are not
included: `python -m bench.perf` measures those.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bench.perf import queries as query_mix
from govsearch.settings import Settings, get_settings
from service.backend import Body, SearchBackend
from service.fusion import Candidate, Fused
from service.query import SearchRequest
from service.ranking import Reranker
from service.runtime import Runtime
from service.search import QueryVectors, Searcher

PARTS = ("embedding", "candidates", "ranking", "page fetch", "other requests", "rest")


class _Clock:
    """The parts' times of the search in progress, in ms."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = defaultdict(float)

    def add(self, part: str, started: float) -> None:
        self.parts[part] += (time.perf_counter() - started) * 1000


class _TimedBackend:
    def __init__(self, backend: SearchBackend, clock: _Clock, alias: str) -> None:
        self.backend, self.clock, self.alias = backend, clock, alias

    async def msearch(self, index: str, bodies: Sequence[Body]) -> list[Body]:
        started = time.perf_counter()
        try:
            return await self.backend.msearch(index, bodies)
        finally:
            if any("ids" in body.get("query", {}) for body in bodies):
                part = "page fetch"
            elif index == self.alias and any("knn" in body or "collapse" in body for body in bodies):
                part = "candidates"
            else:
                part = "other requests"
            self.clock.add(part, started)

    async def analyze(self, index: str, field: str, text: str) -> list[str]:
        started = time.perf_counter()
        try:
            return await self.backend.analyze(index, field, text)
        finally:
            self.clock.add("other requests", started)


class _TimedVectors:
    def __init__(self, vectors: QueryVectors, clock: _Clock) -> None:
        self.vectors, self.clock = vectors, clock

    async def embed(self, text: str) -> list[float]:
        started = time.perf_counter()
        try:
            return await self.vectors.embed(text)
        finally:
            self.clock.add("embedding", started)

    async def refresh_model(self) -> None:
        await self.vectors.refresh_model()


class _TimedRanker:
    def __init__(self, ranker: Reranker, clock: _Clock) -> None:
        self.ranker, self.clock, self.name = ranker, clock, ranker.name

    def rerank(self, q: str, entries: list[Fused], lists: dict[str, list[Candidate]],
               depth: int) -> list[Fused] | None:
        started = time.perf_counter()
        try:
            return self.ranker.rerank(q, entries, lists, depth)
        finally:
            self.clock.add("ranking", started)


async def measure(settings: Settings, modes: list[str], passes: int) -> dict[str, dict[str, list[float]]]:
    """Per mode, per part (and "total"): the time of every measured search, in ms."""
    runtime = await Runtime.open(settings)
    clock = _Clock()
    try:
        searcher = Searcher(_TimedBackend(runtime.searcher.backend, clock, settings.index_alias),
                            _TimedVectors(runtime.query_embedder, clock), settings, runtime.admission,
                            runtime.ranker, runtime.synonyms)
        if searcher.ranker is not None:  # as the searcher holds it (`service.rankmemo` around the learned ranker)
            searcher.ranker = _TimedRanker(searcher.ranker, clock)
        queries = query_mix.distinct()
        for mode in modes:  # warm: query embeddings, the page cache, Elasticsearch's caches
            for q in queries:
                await searcher.search(SearchRequest(q=q, mode=mode))
        out: dict[str, dict[str, list[float]]] = {mode: defaultdict(list) for mode in modes}
        for n in range(passes):
            for mode in modes if n % 2 == 0 else modes[::-1]:
                for q in queries:
                    clock.parts.clear()
                    started = time.perf_counter()
                    await searcher.search(SearchRequest(q=q, mode=mode))
                    total = (time.perf_counter() - started) * 1000
                    out[mode]["total"].append(total)
                    for part in PARTS[:-1]:
                        out[mode][part].append(clock.parts.get(part, 0.0))
                    out[mode]["rest"].append(total - sum(clock.parts.values()))
        return out
    finally:
        await runtime.close()


def render(measured: dict[str, dict[str, list[float]]], args: argparse.Namespace) -> str:
    modes = list(measured)
    lines = [f"Warm searches at one client, in process, index `{args.alias}`, {args.passes} passes over the "
             f"{len(query_mix.distinct())} distinct queries per mode; ms per search, median (mean).", "",
             "| part | " + " | ".join(modes) + " |", "|---|" + "---:|" * len(modes)]
    for part in ("total", *PARTS):
        cells = [f"{statistics.median(measured[m][part]):.2f} ({statistics.mean(measured[m][part]):.2f})"
                 for m in modes]
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.breakdown", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alias", default="bench-perf-q20000", help="the index to query (default: the 20k "
                        "query index `python -m bench.perf` builds)")
    parser.add_argument("--modes", default="bm25,hybrid")
    parser.add_argument("--passes", type=int, default=4)
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {"index_alias": args.alias, "jobs_index": "bench-perf-jobs"}
    settings = Settings(**{**get_settings().model_dump(), **overrides})
    measured = asyncio.run(measure(settings, args.modes.split(","), args.passes))
    print(render(measured, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
