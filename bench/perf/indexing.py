"""Indexing throughput: each stage of the build alone, then the whole build, then a re-run.

The stages are timed on exactly the work the pipeline (`indexer.pipeline`) does:

* parse + chunk: `read_sources` → `split_passages` (and the content hash the parser thread takes);
* embed: `Embedder.embed_passages` over the same passages, fed in the pipeline's batches, with a
  cache directory that is empty at the start (so every vector is computed and written once);
* bulk load: the build's own loader (`indexer.pipeline.bulk_load`) over the finished actions
  (vectors precomputed) into a scratch index created like a real one; the index's finishing step
  (`indexer.elastic.finish_index`: settings back, refresh) is timed on its own.

Then `indexer.pipeline.build` end to end with another empty cache directory (the three stages run
at once there), a full re-build of the same sources with that cache now warm, and an incremental
re-run (unchanged articles are skipped by content hash). The embedding model is loaded once; its
load time is reported separately and is not part of any rate.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from bench.perf.machine import CpuMeter
from govsearch.actions import article_actions
from govsearch.schema import Article, Passage, content_hash
from govsearch.settings import get_settings
from indexer import elastic
from indexer.embeddings import CACHE_DB_NAME, Embedder, EmbeddingCache
from indexer.passages import embedding_text, split_passages
from indexer.pipeline import BuildProgress, BuildResult, build, bulk_load
from indexer.sources import ReadReport, read_sources

Log = Callable[[str], None]


@dataclass
class Stage:
    name: str
    passages: int
    seconds: float
    cpu: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.passages / self.seconds if self.seconds > 0 else 0.0


@dataclass
class BuildRun:
    name: str
    articles: int
    passages: int
    skipped_unchanged: int
    seconds: float
    embed_seconds: float
    load_seconds: float
    cache_hits: int
    cache_misses: int
    cpu: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Passages per second; for an incremental run that skipped everything, the passages the
        index holds divided by the time it took to establish that nothing changed."""
        return self.passages / self.seconds if self.seconds > 0 else 0.0

    @classmethod
    def of(cls, name: str, result: BuildResult, *, passages: int | None = None,
           cpu: dict[str, Any] | None = None) -> BuildRun:
        return cls(name, result.articles, result.passages if passages is None else passages,
                   result.skipped_unchanged, result.seconds, result.embed_seconds, result.load_seconds,
                   result.cache_hits, result.cache_misses, cpu or {})


@dataclass
class CorpusRun:
    corpus: str
    source: str
    articles: int = 0
    passages: int = 0
    stages: dict[str, Stage] = field(default_factory=dict)
    builds: dict[str, BuildRun] = field(default_factory=dict)
    refresh_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def ratio(self, numerator: str, denominator: str) -> float | None:
        """Rate ratio of two stages or builds by name (e.g. end-to-end build over embed stage)."""
        def rate(name: str) -> float | None:
            found = self.stages.get(name) or self.builds.get(name)
            return found.rate if found else None
        a, b = rate(numerator), rate(denominator)
        return a / b if a and b else None

    def speedup(self, first: str, rerun: str) -> float | None:
        a, b = self.builds.get(first), self.builds.get(rerun)
        return a.seconds / b.seconds if a and b and b.seconds > 0 else None


def fresh_embedder(template: Embedder, cache_dir: Path | None) -> Embedder:
    """Another Embedder on the already-loaded model, with its own cache directory."""
    return Embedder(template.name, template.model, prefixes=template.prefixes, cache_dir=cache_dir,
                    cache_model_id=template.cache_model_id)


def write_subset(directory: Path, limit: int, target: Path) -> int:
    """The first `limit` JSONL records of `directory` (files in sorted order) into `target`.

    A scratch copy outside the repository, so that the pipeline reads exactly these records
    through its ordinary file reader. Returns the number of records written.
    """
    written = 0
    with target.open("w", encoding="utf-8") as out:
        for path in sorted(directory.glob("*.jsonl")):
            with path.open(encoding="utf-8") as records:
                for line in records:
                    if not line.strip():
                        continue
                    out.write(line if line.endswith("\n") else line + "\n")
                    written += 1
                    if written >= limit:
                        return written
    return written


def _parse(sources: list[Path]) -> tuple[list[tuple[Article, str, list[Passage]]], float]:
    report = ReadReport()
    started = time.perf_counter()
    items = [(article, content_hash(article), split_passages(article)) for article in read_sources(sources, report)]
    return items, time.perf_counter() - started


def _embed(embedder: Embedder, items: list[tuple[Article, str, list[Passage]]], batch_size: int,
           log: Log) -> tuple[list[Any], float]:
    """Embed as the pipeline's embedding thread does: whole articles until a batch is full."""
    vectors: list[Any] = []
    pending: list[str] = []
    total = sum(len(passages) for _, _, passages in items)
    started = last_report = time.perf_counter()

    def flush() -> None:
        nonlocal pending, last_report
        if pending:
            vectors.extend(embedder.embed_passages(pending, batch_size=batch_size))
            pending = []
        now = time.perf_counter()
        if now - last_report > 30:
            last_report = now
            log(f"    embedded {len(vectors)}/{total} passages, {len(vectors) / (now - started):.1f}/s")

    for article, _, passages in items:
        pending.extend(embedding_text(article, passage) for passage in passages)
        if len(pending) >= batch_size:
            flush()
    flush()
    return vectors, time.perf_counter() - started


def _bulk(es: Elasticsearch, scratch_alias: str, dims: int, model: str,
          items: list[tuple[Article, str, list[Passage]]], vectors: list[Any]) -> tuple[float, float]:
    index = elastic.create_articles_index(es, scratch_alias, dims=dims, model=model)
    try:
        batches: list[list[dict[str, Any]]] = []
        row = 0
        for article, digest, passages in items:
            batches.append(article_actions(index, article, passages, vectors[row:row + len(passages)], digest=digest))
            row += len(passages)
        started = time.perf_counter()
        failed = 0

        def count(ok: bool, _item: dict[str, Any]) -> None:
            nonlocal failed
            failed += not ok

        bulk_load(es, iter(batches), count)
        bulk_seconds = time.perf_counter() - started
        if failed:
            raise RuntimeError(f"{failed} documents rejected while bulk loading the scratch index")
        started = time.perf_counter()
        elastic.finish_index(es, index)
        return bulk_seconds, time.perf_counter() - started
    finally:
        elastic.delete_index(es, index)


def _progress_logger(log: Log, label: str) -> Callable[[BuildProgress], None]:
    state = {"last": 0.0}

    def on_progress(progress: BuildProgress) -> None:
        now = time.monotonic()
        if now - state["last"] > 30:
            state["last"] = now
            log(f"    {label}: {progress.passages_loaded}/{progress.passages_total} passages loaded, "
                f"{progress.rate:.1f}/s ({progress.phase})")

    return on_progress


def measure_corpus(es: Elasticsearch, model: Embedder, *, corpus: str, sources: list[Path], source_label: str,
                   alias: str, scratch_alias: str, batch_size: int, workdir: Path, es_url: str, log: Log,
                   keep_cache: Path | None = None) -> CorpusRun:
    """All indexing measurements for one corpus; leaves `alias` pointing at the built index.

    The embed stage is timed in two halves (alternate articles) run before and after the
    end-to-end build, so a slow or busy spell on a shared machine weighs on both sides of the
    end-to-end / embed-stage ratio alike; both halves use the same empty-at-start cache directory.
    """
    run = CorpusRun(corpus, source_label)

    def meter() -> CpuMeter:
        return CpuMeter(es_url).start()

    log(f"  {corpus}: parse + chunk")
    cpu = meter()
    items, seconds = _parse(sources)
    run.articles = len(items)
    run.passages = sum(len(passages) for _, _, passages in items)
    run.stages["parse"] = Stage("parse + chunk", run.passages, seconds, cpu.stop())
    log(f"    {run.articles} articles, {run.passages} passages in {seconds:.2f} s")

    halves = [items[0::2], items[1::2]]
    # This run's own cache directories, empty at the start: a corpus measured at several sizes (the first 7,538
    # records, then the first 20,000) must not find the smaller size's vectors in the larger one's "cold" caches.
    scratch = Path(tempfile.mkdtemp(prefix=f"{corpus}-", dir=workdir))
    stage_embedder = fresh_embedder(model, scratch / "embed-stage")
    half_runs: list[tuple[int, float, dict[str, Any]]] = []
    vectors_by_half: list[list[Any]] = []

    def embed_half(which: int) -> None:
        half = halves[which]
        count = sum(len(p) for _, _, p in half)
        log(f"  {corpus}: embed stage, half {which + 1}/2 (cold cache), {count} passages")
        cpu = meter()
        vectors, seconds = _embed(stage_embedder, half, batch_size, log)
        half_runs.append((count, seconds, cpu.stop()))
        vectors_by_half.append(vectors)
        log(f"    {seconds:.1f} s, {count / seconds if seconds else 0:.1f} passages/s")

    embed_half(0)

    build_cache = scratch / "build-cache"
    def full_build(key: str, label: str, embedder: Embedder) -> BuildResult:
        """A full build of `sources` behind `alias`, measured as `run.builds[key]`."""
        cpu = meter()
        result = build(es, embedder, sources, alias=alias, keep_previous=0, batch_size=batch_size,
                       on_progress=_progress_logger(log, label), merge_segments=get_settings().index_merge_segments)
        run.builds[key] = BuildRun.of(label, result, cpu=cpu.stop())
        log(f"    {result.seconds:.1f} s, {result.passages_per_second:.1f} passages/s")
        return result

    log(f"  {corpus}: full build, end to end, cold embedding cache")
    embedder = fresh_embedder(model, build_cache)
    first = full_build("first", "first build, end to end (cold cache)", embedder)
    embedder.close()

    embed_half(1)
    stage_embedder.close()
    count = sum(n for n, _, _ in half_runs)
    seconds = sum(t for _, t, _ in half_runs)
    combined = {key: sum((c.get(key) or 0) * t for _, t, c in half_runs) / seconds
                for key in ("self", "es", "other", "busy") if seconds}
    combined["cores"] = half_runs[0][2].get("cores", 0)
    rates = [n / t for n, t, _ in half_runs if t]
    run.stages["embed"] = Stage("embed (cold cache)", count, seconds, combined,
                                detail="halves before/after the build: "
                                + " / ".join(f"{r:.1f}" for r in rates) + " passages/s")

    log(f"  {corpus}: bulk load into a scratch index")
    flat: list[Any] = []
    # Put the vectors back in article order (the halves were alternate articles).
    per_article: list[list[Any]] = [[] for _ in items]
    for which, half_vectors in enumerate(vectors_by_half):
        row = 0
        for position in range(which, len(items), 2):
            n = len(items[position][2])
            per_article[position] = half_vectors[row:row + n]
            row += n
    for chunk in per_article:
        flat.extend(chunk)
    cpu = meter()
    bulk_seconds, run.refresh_seconds = _bulk(es, scratch_alias, model.dims, model.name, items, flat)
    run.stages["bulk"] = Stage("bulk load", run.passages, bulk_seconds, cpu.stop())
    log(f"    {bulk_seconds:.1f} s (+ refresh {run.refresh_seconds:.1f} s), {run.stages['bulk'].rate:.1f} passages/s")
    del items, flat, per_article
    vectors_by_half.clear()

    log(f"  {corpus}: full re-build of the same sources, warm embedding cache")
    embedder = fresh_embedder(model, build_cache)
    full_build("rerun", "full re-build (warm cache)", embedder)

    log(f"  {corpus}: incremental re-run (nothing changed)")
    cpu = meter()
    incremental = build(es, embedder, sources, alias=alias, batch_size=batch_size, incremental=True)
    run.builds["incremental"] = BuildRun.of("incremental re-run (unchanged)", incremental, passages=run.passages,
                                            cpu=cpu.stop())
    embedder.close()
    log(f"    {incremental.seconds:.1f} s, {incremental.skipped_unchanged} articles skipped as unchanged")
    if first.passages != run.passages:
        run.notes.append(f"the build loaded {first.passages} passages, the stage runs {run.passages}")
    if keep_cache is not None and (build_cache / CACHE_DB_NAME).is_file():
        kept = EmbeddingCache(keep_cache / CACHE_DB_NAME)
        kept.merge_from(build_cache / CACHE_DB_NAME)
        kept.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return run


def build_query_index(es: Elasticsearch, model: Embedder, *, sources: Iterable[Path], alias: str,
                      cache_dir: Path, batch_size: int, es_url: str, log: Log) -> BuildRun:
    """The index the query benchmark runs against, built through the real pipeline.

    Its vectors come from a persistent cache directory (kept between benchmark runs), so after
    the first run this build costs parsing and bulk loading only; the cache hits are reported.
    """
    embedder = fresh_embedder(model, cache_dir)
    cpu = CpuMeter(es_url).start()
    try:
        result = build(es, embedder, list(sources), alias=alias, keep_previous=0, batch_size=batch_size,
                       on_progress=_progress_logger(log, "query index"),
                       merge_segments=get_settings().index_merge_segments)
    finally:
        embedder.close()
    return BuildRun.of("query index build", result, cpu=cpu.stop())
