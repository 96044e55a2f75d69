"""`bench/results/perf.md` and its plots (latency, scale, indexing), and the verdict on each target, per size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.perf import suggest
from bench.perf.indexing import CorpusRun
from bench.perf.load import Cell
from bench.perf.machine import cores_text, mib
from bench.perf.queries_run import MODES, SLIM_SOURCE, QueryResults, QuerySize
from bench.perf.suggest import SuggestResults
from govsearch.actions import BULK_OPTIONS
from indexer.pipeline import BULK_STREAMS

# The targets (issue 11), as ratios and figures measured side by side in one run.
E2E_VS_EMBED_MIN = 0.90
RERUN_SPEEDUP_MIN = 10.0
OVERHEAD_MAX = 1.30
HYBRID_VS_BM25_MAX = 1.5
LOAD_CONCURRENCY = 16
LOAD_MIN_RPS = 80.0
LOAD_P99_MAX_MS = 250.0
API_RSS_MAX_BYTES = 500 * 2**20


@dataclass
class Verdict:
    name: str
    met: bool | None  # None: not measured
    detail: str

    def line(self) -> str:
        state = "**met**" if self.met else ("not measured" if self.met is None else "**not met**")
        return f"- {self.name}: {state} — {self.detail}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def overhead(q: QueryResults, mode: str, cache: str) -> tuple[float | None, float | None, float, float | None]:
    """(service p50, raw ES p50, embedding p50 counted, ratio) at concurrency 1.

    The embedding counts only where the service computes one: vector and hybrid with a cold
    query cache. With a warm cache the service looks the vector up, so the fair baseline is ES alone.
    """
    service, raw = q.cell("service", mode, cache, 1), q.cell("es", mode, cache, 1)
    s = service.pct(50) if service and service.n else None
    e = raw.pct(50) if raw and raw.n else None
    embed = (q.embed_p50 or 0.0) if (mode != "bm25" and cache == "cold") else 0.0
    ratio = s / (e + embed) if s is not None and e is not None else None
    return s, e, embed, ratio


def indexing_verdicts(c: CorpusRun) -> list[Verdict]:
    """The two indexing targets for one corpus run."""
    where = f"[{c.corpus}, {c.articles:,} articles]"
    ratio, speedup = c.ratio("first", "embed"), c.speedup("first", "rerun")
    if ratio is None:
        e2e = Verdict(f"{where} first build end to end ≥ {E2E_VS_EMBED_MIN:.0%} of the embedding stage alone",
                      None, "not measured")
    else:
        e2e = Verdict(f"{where} first build end to end ≥ {E2E_VS_EMBED_MIN:.0%} of the embedding stage alone",
                      ratio >= E2E_VS_EMBED_MIN,
                      f"{c.builds['first'].rate:.1f} vs {c.stages['embed'].rate:.1f} passages/s = {ratio:.0%}")
    if speedup is None:
        rerun = Verdict(f"{where} full re-build, warm embedding cache, ≥ {RERUN_SPEEDUP_MIN:.0f}× faster than the "
                        "first build", None, "not measured")
    else:
        incremental = c.speedup("first", "incremental")
        rerun = Verdict(f"{where} full re-build, warm embedding cache, ≥ {RERUN_SPEEDUP_MIN:.0f}× faster than the "
                        "first build", speedup >= RERUN_SPEEDUP_MIN,
                        f"{c.builds['first'].seconds:.1f} s → {c.builds['rerun'].seconds:.1f} s = {speedup:.1f}×"
                        + (f" (incremental re-run {incremental:.0f}×)" if incremental else ""))
    return [e2e, rerun]


def shed_text(q: QueryResults, mode: str, cache: str = "warm") -> str:
    """Shed (503 overloaded) requests per concurrency level, e.g. 'c=1: 0 of 200, c=16: 13 of 200'."""
    parts = []
    for c in sorted({cell.concurrency for cell in q.cells if cell.target == "service"}):
        cell = q.cell("service", mode, cache, c)
        if cell:
            parts.append(f"c={c}: {cell.shed} of {cell.n + cell.shed + cell.errors}")
    return ", ".join(parts)


def query_verdicts(size: QuerySize) -> list[Verdict]:
    """The query and memory targets at one index size."""
    q, where = size.results, f"[{size.label}]"
    found: list[Verdict] = []

    parts, ok, any_ = [], True, False
    for cache in ("warm", "cold"):
        for mode in MODES:
            s, e, embed, ratio = overhead(q, mode, cache)
            if ratio is None:
                continue
            any_ = True
            ok &= ratio <= OVERHEAD_MAX
            parts.append(f"{mode}/{cache} {ratio - 1:+.0%}")
    found.append(Verdict(f"{where} service overhead ≤ {OVERHEAD_MAX - 1:.0%} at p50, concurrency 1: "
                         "service p50 / (raw ES p50 + embedding p50)", ok if any_ else None,
                         ", ".join(parts) or "not measured"))

    name = f"{where} warm hybrid p50 ≤ {HYBRID_VS_BM25_MAX}× bm25 p50 (concurrency 1)"
    hybrid, bm25 = q.cell("service", "hybrid", "warm", 1), q.cell("service", "bm25", "warm", 1)
    if hybrid and bm25 and hybrid.n and bm25.n:
        ratio = hybrid.pct(50) / bm25.pct(50)
        found.append(Verdict(name, ratio <= HYBRID_VS_BM25_MAX,
                             f"{hybrid.pct(50):.1f} ms vs {bm25.pct(50):.1f} ms = {ratio:.2f}×"))
    else:
        found.append(Verdict(name, None, "hybrid or bm25 at concurrency 1 not run"))

    # Judged warm (the query cache serving repeats, as a portal's traffic does) and cold (queries the process has
    # never seen: every one embedded and ranked afresh), each on its own line.
    for cache in ("warm", "cold"):
        name = (f"{where} hybrid at {LOAD_CONCURRENCY} concurrent clients ({cache}): ≥ {LOAD_MIN_RPS:.0f} req/s, "
                f"p99 ≤ {LOAD_P99_MAX_MS:.0f} ms, 0 errors")
        loaded = q.cell("service", "hybrid", cache, LOAD_CONCURRENCY)
        if loaded and loaded.n:
            met = (loaded.throughput >= LOAD_MIN_RPS and loaded.pct(99) <= LOAD_P99_MAX_MS and loaded.errors == 0)
            found.append(Verdict(name, met, f"{loaded.throughput:.1f} req/s, p99 {loaded.pct(99):.0f} ms, "
                                 f"{loaded.errors} errors; shed (503 overloaded, not errors) "
                                 f"{shed_text(q, 'hybrid', cache)}"))
        else:
            found.append(Verdict(name, None, f"hybrid {cache} at concurrency {LOAD_CONCURRENCY} not run"))

    name = f"{where} API process RSS with the model ≤ {mib(API_RSS_MAX_BYTES)}"
    peak = q.api_memory_after.get("peak_rss")
    if peak is not None:
        found.append(Verdict(name, peak <= API_RSS_MAX_BYTES,
                             f"peak {mib(peak)} over the whole query run (after loading: "
                             f"{mib(q.api_memory_loaded.get('rss'))})"
                             + (f"; the largest of {q.api_workers} worker processes" if q.api_workers > 1 else "")))
    else:
        found.append(Verdict(name, None, "no reading"))
    return found


def suggest_verdicts(sizes: list[tuple[int, SuggestResults]]) -> list[Verdict]:
    """/suggest p50 < 20 ms for every input kind, judged on the 20k index (other sizes for reference)."""
    name = f"/suggest p50 < {suggest.P50_MAX_MS:.0f} ms for every input kind"
    found = []
    for n, results in sizes:
        met, detail = suggest.verdict_parts(results)
        applies = n >= suggest.TARGET_ARTICLES
        found.append(Verdict(f"[{results.label}] {name}" + ("" if applies else " (reference: the target is judged "
                                                                               "on the 20,000-article index)"),
                             met, detail))
    if not suggest.judged(sizes):
        found.append(Verdict(f"[sample + 20,000 xwlb] {name}", None, "suggest part not run at that size"))
    return found


def verdicts(corpora: list[CorpusRun], sizes: list[QuerySize],
             suggest_sizes: list[tuple[int, SuggestResults]] | None = None) -> list[Verdict]:
    """Every target: indexing per xwlb corpus size (the sample when no xwlb ran), queries and
    memory per query index size, suggestions per size."""
    judged = [c for c in corpora if c.corpus == "xwlb"] or corpora[:1]
    found = [v for c in judged for v in indexing_verdicts(c)]
    if not judged:
        found.append(Verdict("indexing targets", None, "indexing part not run"))
    found += [v for size in sizes for v in query_verdicts(size)]
    if not sizes:
        found.append(Verdict("query targets", None, "query part not run"))
    return found + suggest_verdicts(suggest_sizes or [])


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------

def _indexing_table(c: CorpusRun) -> list[str]:
    lines = [
        f"**{c.corpus}** — {c.source}: {c.articles:,} articles, {c.passages:,} passages",
        "",
        "| stage | passages | seconds | passages/s | CPU used (cores) | notes |",
        "|---|---:|---:|---:|---|---|",
    ]
    for key, note in (("parse", "read_sources + split_passages + content hash"),
                      ("embed", "Embedder.embed_passages, empty cache dir, pipeline batches"),
                      ("bulk", f"the build's loader (`indexer.pipeline.bulk_load`, {BULK_STREAMS} streams, "
                               f"chunk {BULK_OPTIONS['chunk_size']}), vectors precomputed; "
                               f"then refresh {c.refresh_seconds:.1f} s")):
        stage = c.stages.get(key)
        if stage:
            note = note + (f"; {stage.detail}" if stage.detail else "")
            lines.append(f"| {stage.name} | {stage.passages:,} | {stage.seconds:.2f} | {_rate(stage.rate)} | "
                         f"{cores_text(stage.cpu)} | {note} |")
    for key in ("first", "rerun", "incremental"):
        b = c.builds.get(key)
        if b is None:
            continue
        note = (f"embedding {b.embed_seconds:.1f} s, loading {b.load_seconds:.1f} s (overlapping); "
                f"cache {b.cache_hits:,} hits / {b.cache_misses:,} computed")
        if key == "incremental":
            note = f"{b.skipped_unchanged:,} articles skipped as unchanged; rate = passages in the index / time"
        lines.append(f"| {b.name} | {b.passages:,} | {b.seconds:.2f} | {_rate(b.rate)} | {cores_text(b.cpu)} | {note} |")
    ratio, speedup, inc = c.ratio("first", "embed"), c.speedup("first", "rerun"), c.speedup("first", "incremental")
    lines += ["", "Ratios: end-to-end / embedding stage = " + ("–" if ratio is None else f"{ratio:.0%}")
              + "; first build / full re-build = " + ("–" if speedup is None else f"{speedup:.1f}×")
              + "; first build / incremental re-run = " + ("–" if inc is None else f"{inc:.0f}×") + "."]
    for note in c.notes:
        lines += ["", f"Note: {note}"]
    return lines


def _cell_row(cell: Cell) -> str:
    errors = str(cell.errors) + (f" ({cell.error_samples[0][:80]})" if cell.error_samples else "")
    flags = []
    if cell.degraded:
        flags.append(f"{cell.degraded} degraded")
    if cell.stopped_early:
        flags.append("time budget hit")
    took = f"{cell.took_p50:.0f}" if cell.took_p50 is not None else ""
    if cell.target == "es":
        took += (f" | {sum(cell.response_bytes) / len(cell.response_bytes) / 1024:,.0f}" if cell.response_bytes else " | –")
    api = ""
    if cell.target == "service" and cell.cpu.get("api") is not None and cell.n:
        api = f" {cell.cpu['api'] * cell.cpu['wall'] / cell.n * 1000:.1f} |"
    shed = f" {cell.shed} |" if cell.target == "service" else ""
    return (f"| {cell.mode} | {cell.cache} | {cell.concurrency} | {cell.n} | {_ms(cell.pct(50))} | {_ms(cell.pct(95))} | "
            f"{_ms(cell.pct(99))} | {cell.throughput:.1f} |{shed} {errors}{' ' + ', '.join(flags) if flags else ''} |"
            + (f" {took} |" if cell.target == "es" else api) + f" {cores_text(cell.cpu)} |")


def _order(cell: Cell) -> tuple[int, int, int]:
    return (["warm", "cold"].index(cell.cache) if cell.cache in ("warm", "cold") else 2,
            list(MODES).index(cell.mode), cell.concurrency)


def _workers(q: QueryResults) -> str:
    return "1 worker" if q.api_workers == 1 else f"{q.api_workers} worker processes"


def _query_tables(q: QueryResults) -> list[str]:
    service = sorted((c for c in q.cells if c.target == "service" and c.cache in ("warm", "cold")), key=_order)
    raw = sorted((c for c in q.cells if c.target == "es"), key=_order)
    cold = ("a fresh API process per cell (model loaded, query cache empty), each of its queries once"
            if q.cold_method == "restart" else "queries the API process has not seen before, disjoint per cell")
    cold += (" (the mix's distinct queries, then the judged set's and short xwlb keyword queries of the "
             "training years: `unseen` in `bench/perf/queries.py`)")
    lines = [
        f"Index: alias `{q.alias}`. Query mix: {q.distinct_queries} distinct citizen-style queries "
        "(exact words, names, questions, paraphrases; `bench/perf/queries.py`). "
        f"**cold** = {cold} ({q.cold_queries_per_cell}+ requests per cell); for bm25, which never embeds, "
        f"cold means the first time Elasticsearch sees the queries. **warm** = {q.warm_requests} requests drawn "
        f"with repeats (Zipf-like, {q.warm_distinct} distinct), after one unmeasured pass over every query. "
        "Concurrency 1 runs are paired: each service request and the equivalent direct Elasticsearch request "
        "run back to back (alternating which goes first); throughput at c=1 is requests per second of own request time. "
        "Latencies are client-side wall time in ms (HTTP included), successful requests only; req/s counts "
        "successful requests. **shed** = requests answered 503 `overloaded` by admission control (fast, by design; "
        "not counted as errors, nor in n, latencies or req/s). "
        f"The API runs as uvicorn with {_workers(q)}. "
        "CPU used = cores busy during the cell: bench = this load client, API = the uvicorn process(es), "
        "ES = the node, others = everything else on the machine (other people's work: the noise). "
        "API CPU ms/req = the API's CPU time over the cell divided by its requests "
        "(includes embedding where it embeds).",
        "",
        "**Service** (`GET /search?q=…&mode=…`, 10 hits)",
        "",
        "| mode | cache | c | n | p50 | p95 | p99 | req/s | shed | errors | API CPU ms/req | CPU used (cores) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
        *(_cell_row(c) for c in service),
        "",
        "**Raw Elasticsearch**: the identical `_msearch` requests the service sends, recorded from "
        "`service.search.Searcher` itself running against this index (vector and hybrid: the candidate request, "
        "then the page fetch of the page's passages by id, highlighted; bm25: one request), POSTed directly one "
        "after the other; time until each whole response body has arrived, not parsed, summed. `took` = "
        "Elasticsearch's own median `took` (ms, summed over the requests of a search); KB = mean response size.",
        "",
        "| mode | cache | c | n | p50 | p95 | p99 | req/s | errors | took | KB | CPU used (cores) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
        *(_cell_row(c) for c in raw),
        "",
    ]
    variants = [c for c in q.cells if c.target == "es-variant"]
    if variants:
        lines += [
            "**Where Elasticsearch's time goes** (diagnostic; not what the service sends): the warm mix at c=1, each "
            "query sent as the service sends it, without `highlight`, without `highlight` and with `_source` cut to "
            f"the fields fusion, sorting and facets read ({', '.join(SLIM_SOURCE)}), the same fields from doc values "
            "with no `_source` read at all, and (bm25) without the facet aggregations, back to back; then for vector "
            "and hybrid the same variants one after the other at the highest concurrency.",
            "",
            "| request | c | n | p50 | p95 | p99 | req/s | took p50 | response KB (mean) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c in sorted(variants, key=lambda c: (c.mode.split(":")[0], c.concurrency)):
            took = c.took_p50 or 0
            kb = sum(c.response_bytes) / len(c.response_bytes) / 1024 if c.response_bytes else 0
            lines.append(f"| {c.mode} | {c.concurrency} | {c.n} | {_ms(c.pct(50))} | {_ms(c.pct(95))} | {_ms(c.pct(99))} | "
                         f"{c.throughput:.1f} | {took:.0f} | {kb:,.0f} |")
        lines.append("")
    if q.embed_ms:
        ordered = sorted(q.embed_ms)
        pct = lambda p: ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
        lines += [f"**Query embedding alone** (`Embedder.embed_query`, same model, in the benchmark process, "
                  f"{len(ordered)} calls): p50 {pct(50):.2f} ms, p95 {pct(95):.2f} ms, p99 {pct(99):.2f} ms.", ""]
    lines += [
        "**Service overhead** at concurrency 1: service p50 / (raw ES p50 + embedding p50). The embedding is counted "
        "only where the service computes one (vector and hybrid, cold cache); with a warm cache the service looks the "
        "vector up, so its baseline is Elasticsearch alone. API CPU ms/req is the service's own CPU time per request "
        "(everything it does in Python, and the embedding where it embeds): the part of the overhead that is work, "
        "not waiting for a core on a busy machine.",
        "",
        "| mode | cache | service p50 | raw ES p50 | embedding p50 | ratio | overhead ms | API CPU ms/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for cache in ("warm", "cold"):
        for mode in MODES:
            s, e, embed, ratio = overhead(q, mode, cache)
            if ratio is None:
                continue
            cell = q.cell("service", mode, cache, 1)
            cpu = (f"{cell.cpu['api'] * cell.cpu['wall'] / cell.n * 1000:.1f}"
                   if cell and cell.n and cell.cpu.get("api") is not None else "–")
            lines.append(f"| {mode} | {cache} | {s:.1f} | {e:.1f} | {embed:.2f} | {ratio:.2f} | {s - e - embed:.1f} | {cpu} |")
    return lines


def render(data: dict[str, Any]) -> str:
    machine = data["machine"]
    corpora: list[CorpusRun] = data["corpora"]
    sizes: list[QuerySize] = data["query_sizes"]
    lines = [
        "# Performance benchmark",
        "",
        f"Run {data['started']} – {data['finished']} ({data['elapsed_minutes']:.1f} min). Command:",
        "",
        "```sh",
        data["command"],
        "```",
        "",
        "| machine | |",
        "|---|---|",
        f"| nproc | {machine['nproc']} |",
        f"| CPU | {machine['cpu']} |",
        f"| memory | {mib(machine['memory_bytes'])} |",
        f"| OS | {machine['os']} |",
        f"| Python | {machine['python']} |",
        f"| Elasticsearch | {machine['elasticsearch']} (heap max {mib(machine['es_heap_max_bytes'])}) at `{data['es_url']}` |",
        f"| Java | {machine['java']} |",
        *(f"| {name} | {version} |" for name, version in machine["packages"].items()),
        f"| embedding model | {data['model']} ({data['model_dims']} dims), threads: {data['embedding_threads']}; "
        f"loaded in {data['model_load_seconds']:.1f} s |",
        f"| load average | {data['load_start'][0]:.2f} at the start, {data['load_end'][0]:.2f} at the end "
        "(1-min; the machine is shared, so absolute numbers are noisy — the targets are ratios taken in the same run) |",
        "",
        "## Targets",
        "",
        *(v.line() for v in data["verdicts"]),
        "",
    ]
    if data.get("skipped"):
        lines += ["Skipped: " + "; ".join(data["skipped"]), ""]

    lines += ["## Indexing", ""]
    if not corpora:
        lines += ["Not run.", ""]
    for c in corpora:
        lines += [*_indexing_table(c), ""]

    lines += ["## Queries", ""]
    if not sizes:
        lines += ["Not run.", ""]
    if len(sizes) > 1:
        lines += _scale_table(sizes)
    for size in sizes:
        lines += [f"### {size.label}", "", *_size_intro(size, data["bench_cache"]), "", *_query_tables(size.results), ""]

    lines += ["", *suggest.markdown(data.get("suggest_sizes", []))]

    lines += ["", "## Memory", "", "| what | RSS / heap | notes |", "|---|---:|---|"]
    for size in sizes:
        q = size.results
        loaded, after = q.api_memory_loaded, q.api_memory_after
        lines.append(f"| API process after loading the model, {size.label} | {mib(loaded.get('rss'))} | uvicorn, "
                     f"{_workers(q)} (the largest process), ready (`/readyz` 200), no query served |")
        lines.append(f"| API process after the query run, {size.label} | {mib(after.get('rss'))} | peak RSS "
                     f"{mib(after.get('peak_rss'))}; served the bm25 cold cells, the warm-up and every warm cell |")
        if q.api_startup_seconds:
            lines.append(f"| API start to ready, {size.label} | {min(q.api_startup_seconds):.1f}–"
                         f"{max(q.api_startup_seconds):.1f} s | {len(q.api_startup_seconds)} starts |")
        heap = size.heap
        lines.append(f"| Elasticsearch heap used with {size.label} | {mib(heap['used_min'])} | median "
                     f"{mib(heap['used_median'])} of {mib(heap['max'])} max over 5 readings; {heap.get('what', '')} |")
    heap = data.get("heap_sample")
    if heap:
        lines.append(f"| Elasticsearch heap used after the sample index | {mib(heap['used_min'])} | median "
                     f"{mib(heap['used_median'])} of {mib(heap['max'])} max over 5 readings; {heap.get('what', '')} |")
    if data.get("profile_text"):
        lines += ["", "## Profile of the API (warm hybrid, c=1)", "", "```", data["profile_text"].rstrip(), "```"]
    lines += ["", "Plots: `perf-latency.png` (latency by mode and concurrency, first index size), "
              "`perf-scale.png` (latency and throughput by index size), `perf-indexing.png` (stage throughput).", ""]
    return "\n".join(lines)


def _size_intro(size: QuerySize, bench_cache: str) -> list[str]:
    text = (f"Index `{size.alias}`: {size.source} — {size.articles:,} articles, {size.passages:,} passages, "
            f"{size.store_bytes / 2**20:,.0f} MiB on disk. ")
    if size.build is not None:
        b = size.build
        text += (f"Built in {b.seconds:.1f} s ({b.rate:.1f} passages/s) through the same pipeline with the persistent "
                 f"benchmark embedding cache `{bench_cache}`: {b.cache_hits:,} vectors from the cache, "
                 f"{b.cache_misses:,} computed (with everything cached this is a full re-build at that size). ")
    elif size.reused:
        text += f"An existing index (`{size.reused}`), not built by this run. "
    m = size.merges
    text += (f"Before the queries: waited {m['seconds']:.1f} s for Elasticsearch's background merges "
             f"({'none left' if m['quiet'] else 'still merging at the 300 s limit'}); {m['segments']} segments.")
    return [text]


SCALE_CELLS = (("bm25", 1), ("hybrid", 1), ("bm25", LOAD_CONCURRENCY), ("hybrid", LOAD_CONCURRENCY))


def _scale_table(sizes: list[QuerySize]) -> list[str]:
    """How query cost grows with the index: warm cells side by side per size."""
    head = " | ".join(f"{mode} c={c} p50 / p99 ms · req/s · shed" for mode, c in SCALE_CELLS)
    lines = [
        "**Scale**: the warm cells at each index size (same query mix, same API settings; every size measured in "
        "this run, one after the other). Elasticsearch heap = lowest of 5 readings with that index loaded.",
        "",
        f"| index | articles | passages | MiB on disk | ES heap | API peak RSS | {head} |",
        "|---|---:|---:|---:|---:|---:|" + "---:|" * len(SCALE_CELLS),
    ]
    for size in sizes:
        q = size.results
        cells = []
        for mode, c in SCALE_CELLS:
            cell = q.cell("service", mode, "warm", c)
            cells.append("–" if cell is None or not cell.n else
                         f"{cell.pct(50):.1f} / {cell.pct(99):.0f} · {cell.throughput:.1f} · {cell.shed}")
        lines.append(f"| {size.label} | {size.articles:,} | {size.passages:,} | {size.store_bytes / 2**20:,.0f} | "
                     f"{mib(size.heap['used_min'])} | {mib(q.api_memory_after.get('peak_rss'))} | "
                     + " | ".join(cells) + " |")
    return [*lines, ""]


# --------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------

def plot_latency(q: QueryResults, path: Path) -> None:
    plt = _pyplot()

    caches = [cache for cache in ("warm", "cold") if any(c.cache == cache and c.target == "service" for c in q.cells)]
    concurrency = sorted({c.concurrency for c in q.cells if c.target == "service"})
    colors = {"bm25": "#4C72B0", "vector": "#DD8452", "hybrid": "#55A868"}
    fig, axes = plt.subplots(1, len(caches), figsize=(6.5 * len(caches), 4.6), sharey=True, squeeze=False)
    width = 0.26
    for ax, cache in zip(axes[0], caches):
        for i, mode in enumerate(MODES):
            xs, p50, p95, p99, es50 = [], [], [], [], []
            for j, c in enumerate(concurrency):
                cell = q.cell("service", mode, cache, c)
                if cell is None or not cell.n:
                    continue
                xs.append(j + (i - 1) * width)
                p50.append(cell.pct(50))
                p95.append(cell.pct(95))
                p99.append(cell.pct(99))
                raw = q.cell("es", mode, cache, c)
                es50.append(raw.pct(50) if raw and raw.n else float("nan"))
            if not xs:
                continue
            ax.bar(xs, p50, width, color=colors[mode], label=f"{mode} p50")
            ax.vlines(xs, p50, p95, color="black", linewidth=1)
            ax.scatter(xs, p95, marker="_", color="black", s=60, label="p95" if i == 0 else None)
            ax.scatter(xs, p99, marker="v", color="black", s=18, label="p99" if i == 0 else None)
            ax.scatter(xs, es50, marker="x", color="crimson", s=22, label="raw ES p50" if i == 0 else None, zorder=3)
        ax.axhline(LOAD_P99_MAX_MS, color="grey", linestyle="--", linewidth=0.8)
        ax.text(-0.45, LOAD_P99_MAX_MS, f"{LOAD_P99_MAX_MS:.0f} ms", va="bottom", ha="left", fontsize=8, color="grey")
        ax.set_xticks(range(len(concurrency)), [f"c={c}" for c in concurrency])
        ax.set_title(f"{cache} query-embedding cache")
        ax.set_ylabel("latency (ms)")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.suptitle("GET /search latency by mode and concurrency")
    _save(plt, fig, path)


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_indexing(corpora: list[CorpusRun], path: Path) -> None:
    plt = _pyplot()

    fig, axes = plt.subplots(1, len(corpora), figsize=(6.5 * len(corpora), 3.8), squeeze=False)
    for ax, c in zip(axes[0], corpora):
        rows: list[tuple[str, float, str]] = []
        for key, color in (("parse", "#8172B3"), ("embed", "#DD8452"), ("bulk", "#4C72B0")):
            if key in c.stages:
                rows.append((c.stages[key].name, c.stages[key].rate, color))
        for key, color in (("first", "#55A868"), ("rerun", "#64B5CD")):
            if key in c.builds:
                rows.append((c.builds[key].name, c.builds[key].rate, color))
        labels = [r[0] for r in rows][::-1]
        values = [r[1] for r in rows][::-1]
        ax.barh(labels, values, color=[r[2] for r in rows][::-1])
        ax.set_xscale("log")
        for y, value in enumerate(values):
            ax.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
        ax.set_xlabel("passages / s (log scale)")
        ax.set_title(f"{c.corpus}: {c.articles:,} articles, {c.passages:,} passages")
        ax.grid(axis="x", alpha=0.3, which="both")
    fig.suptitle("Indexing throughput by stage")
    _save(plt, fig, path)


def plot_scale(sizes: list[QuerySize], path: Path) -> None:
    """Warm latency (p50 at c=1, p99 at the load concurrency) and throughput against index size; the
    throughput panel only when the load concurrency was run (an axis with no data cannot be log-scaled)."""
    plt = _pyplot()

    colors = {"bm25": "#4C72B0", "hybrid": "#55A868"}
    loaded = any(size.results.cell("service", mode, "warm", LOAD_CONCURRENCY) for size in sizes
                 for mode in ("bm25", "hybrid"))
    fig, axes = plt.subplots(1, 2 if loaded else 1, figsize=(12 if loaded else 6.5, 4.4), squeeze=False)
    lat, thr = axes[0][0], axes[0][1] if loaded else None
    articles = [size.articles for size in sizes]
    for mode in ("bm25", "hybrid"):
        lines = [(1, "-o", "p50, c=1"), (LOAD_CONCURRENCY, "--s", f"p99, c={LOAD_CONCURRENCY}")][:2 if loaded else 1]
        for c, style, what in lines:
            values = []
            for size in sizes:
                cell = size.results.cell("service", mode, "warm", c)
                values.append((cell.pct(50) if c == 1 else cell.pct(99)) if cell and cell.n else float("nan"))
            lat.plot(articles, values, style, color=colors[mode], label=f"{mode} {what}")
        if thr is not None:
            values = []
            for size in sizes:
                cell = size.results.cell("service", mode, "warm", LOAD_CONCURRENCY)
                values.append(cell.throughput if cell and cell.n else float("nan"))
            thr.plot(articles, values, "-o", color=colors[mode], label=f"{mode}, c={LOAD_CONCURRENCY}")
    panels = [(lat, "latency (ms)")]
    if thr is not None:
        lat.axhline(LOAD_P99_MAX_MS, color="grey", linestyle="--", linewidth=0.8)
        thr.axhline(LOAD_MIN_RPS, color="grey", linestyle="--", linewidth=0.8)
        thr.set_title(f"warm throughput at {LOAD_CONCURRENCY} concurrent clients")
        panels.append((thr, "successful requests / s"))
    for ax, ylabel in panels:
        ax.set_xscale("log")
        ax.set_xlabel("articles in the index (log scale)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    lat.set_title("warm GET /search latency by index size")
    _save(plt, fig, path)
