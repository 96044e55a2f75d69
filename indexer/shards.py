"""Embedding a corpus in shards: the vector cache filled by several processes or machines at once.

Embedding is the one expensive stage of a first build (bench/results/perf.md), and a build runs one
embedding thread. `embed_shard` computes the vectors of one shard of the sources' passages into the
embedding cache without touching Elasticsearch; run shard 1/N … N/N anywhere (one process per core, or
per machine with a copy of the sources), merge the caches (`EmbeddingCache.merge_from`, `python -m indexer
cache-merge`), and the build that follows finds every vector cached and is bound by bulk loading alone.

A passage belongs to shard `shard_of(key, n)` by its cache key (the embedded text's sha256, see
`Embedder.passage_key`), so the shards are disjoint, together cover every passage, do not depend on the
order or the grouping of the sources, and a text repeated across articles is embedded once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.embeddings import Embedder
from indexer.passages import embedding_text, split_passages
from indexer.sources import ReadReport, read_sources

CHUNK = 512
"""Passages handed to the embedder per call (progress is reported between calls)."""

THREADS_PER_PROCESS = 1
"""BLAS threads of each process when several embed at once and EMBEDDING_THREADS is not set."""


class ShardError(RuntimeError):
    """The shard cannot be embedded into the cache (no cache, or one that cannot be written)."""


def shard_of(key: bytes, shards: int) -> int:
    """The shard (0 … shards − 1) of a passage with this cache key."""
    if shards < 1:
        raise ValueError("shards must be ≥ 1")
    return int.from_bytes(key[:8], "big") % shards


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' (1 ≤ K ≤ N) as (K − 1, N): the `--shard` option's form."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"a shard is K/N, e.g. 1/4, not {text!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"shard {text!r}: K must be between 1 and N")
    return k - 1, n


@dataclass
class ShardProgress:
    """How far `embed_shard` is: passages of the shard embedded (or found cached) so far, of `total`."""

    total: int = 0
    done: int = 0
    computed: int = 0


@dataclass
class ShardResult:
    """What one `embed_shard` call did."""

    shard: int  # 0-based
    shards: int
    articles: int  # articles read from the sources (all shards)
    passages: int  # distinct passage texts read (all shards)
    in_shard: int  # of those, the ones this shard embeds
    computed: int  # vectors computed (the rest were cached already)
    seconds: float
    report: ReadReport

    @property
    def cached(self) -> int:
        return self.in_shard - self.computed


def embed_shard(embedder: Embedder, sources: Iterable[str | Path], *, shard: int = 0, shards: int = 1,
                batch_size: int = 64, on_progress: Callable[[ShardProgress], None] | None = None) -> ShardResult:
    """Put the vectors of shard `shard` (0-based) of `shards` of the sources' passages into `embedder`'s cache.

    embedder: the model and the cache directory (EMBEDDING_CACHE_DIR) to fill; its cache must be enabled.
    sources: files or directories, read and cut into passages exactly as `python -m indexer build` does.
    batch_size: passages per model call (EMBEDDING_BATCH_SIZE).
    on_progress: called after every CHUNK passages with the running totals.
    Passages already cached are not computed again, so a stopped run resumes where it was. Raises
    ShardError when the cache is disabled or cannot be opened.
    """
    if embedder.cache_path is None:
        raise ShardError("embedding into shards needs the vector cache (EMBEDDING_CACHE_DIR)")
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not one of 0 … {shards - 1}")
    started = time.monotonic()
    report = ReadReport()
    texts: dict[bytes, str] = {}  # distinct passage texts by cache key
    for article in read_sources(sources, report):
        for passage in split_passages(article):
            text = embedding_text(article, passage)
            texts.setdefault(embedder.passage_key(text), text)
    mine = [text for key, text in texts.items() if shard_of(key, shards) == shard]
    progress = ShardProgress(total=len(mine))
    misses_before = embedder.cache_misses
    for start in range(0, len(mine), CHUNK):
        chunk = mine[start:start + CHUNK]
        embedder.embed_passages(chunk, batch_size=batch_size)
        if embedder.cache_path is None:  # the cache failed to open: nothing computed would be kept
            raise ShardError(f"the embedding cache could not be opened or written (see the log): "
                             f"{len(chunk)} vectors computed and not kept; stopping")
        progress.done += len(chunk)
        progress.computed = embedder.cache_misses - misses_before
        if on_progress:
            on_progress(progress)
    return ShardResult(shard=shard, shards=shards, articles=report.articles, passages=len(texts), in_shard=len(mine),
                       computed=embedder.cache_misses - misses_before, seconds=time.monotonic() - started,
                       report=report)


def embed_in_processes(embedder: Embedder, sources: Sequence[str | Path], processes: int, *, batch_size: int = 64,
                       on_progress: Callable[[ShardProgress], None] | None = None) -> ShardResult:
    """Fill `embedder`'s cache with every passage vector of the sources, `processes` shards at once: shards
    2 … N in `python -m indexer embed` subprocesses (same model and cache directory, one BLAS thread each
    unless EMBEDDING_THREADS says otherwise), shard 1 in this process; returns this process's part once all
    are done. A build that follows finds every vector cached (`python -m indexer build --processes N`).

    on_progress: this process's shard's progress (the others run at about the same rate).
    Raises ShardError when a subprocess fails (with the end of its error output); the others are stopped.
    """
    if processes < 1:
        raise ValueError("processes must be ≥ 1")
    if embedder.cache_path is None:
        raise ShardError("embedding in processes needs the vector cache (EMBEDDING_CACHE_DIR)")
    env = {**os.environ, "EMBEDDING_CACHE_DIR": str(embedder.cache_path.parent)}
    env.setdefault("EMBEDDING_THREADS", str(THREADS_PER_PROCESS))
    command = [sys.executable, "-m", "indexer", "embed", "--model", embedder.name, "--quiet",
               *(arg for source in sources for arg in ("--source", str(source)))]
    workers = [subprocess.Popen([*command, "--shard", f"{k}/{processes}"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) for k in range(2, processes + 1)]
    try:
        mine = embed_shard(embedder, sources, shard=0, shards=processes, batch_size=batch_size,
                           on_progress=on_progress)
        for k, worker in enumerate(workers, start=2):
            _, errors = worker.communicate()
            if worker.returncode != 0:
                tail = " | ".join(errors.strip().splitlines()[-3:])
                raise ShardError(f"embedding shard {k}/{processes} failed (exit {worker.returncode}): {tail}")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return mine
