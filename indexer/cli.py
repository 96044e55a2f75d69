"""`python -m indexer`: build, inspect and describe the gov-search index."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elasticsearch import Elasticsearch
from tqdm import tqdm

from govsearch.settings import Settings, get_settings, settings_or_exit
from indexer import elastic
from indexer.embeddings import Embedder
from indexer.journal import Journal
from indexer.passages import split_passages
from indexer.pipeline import BuildCancelled, BuildFailed, BuildProgress, BuildResult, build
from indexer.shards import (
    THREADS_PER_PROCESS,
    ShardError,
    ShardProgress,
    embed_in_processes,
    embed_shard,
    parse_shard,
)
from indexer.sources import PAGE_SUFFIXES, RECORD_SUFFIXES, Problem, ReadReport, read_sources

if TYPE_CHECKING:
    from service.jobs import Lease

DESCRIPTION = """\
Turn government newsletters into a searchable Elasticsearch index.

Sources are files or directories (walked recursively):
  {pages}
           raw scraped pages: one newsletter issue or article per file
  {records}
           one record per line: {{id, title, date, source, url, body}}
Pages: UTF-8, UTF-16 with a byte-order mark, or GBK/GB18030; records: UTF-8. Unreadable files, files of
other kinds, malformed lines and records Elasticsearch would refuse are reported with path and line, and
skipped.

Connection and model come from the environment (see README, "Settings"):
  ES_URL / ES_PORT, INDEX_ALIAS, EMBEDDING_MODEL, EMBEDDING_CACHE_DIR.
""".format(pages=", ".join(f"*{suffix}" for suffix in sorted(PAGE_SUFFIXES)),
           records=", ".join(f"*{suffix}" for suffix in sorted(RECORD_SUFFIXES)))

EPILOG = """\
examples:
  python -m indexer inspect --source data/sample | less     check what parsing produces
  python -m indexer build --source data/sample              new index, then switch the alias
  python -m indexer build --source ../shared/corpus/xwlb/xwlb-2012.jsonl
  python -m indexer build --source data/sample --incremental   write only changed articles
  python -m indexer build --source ../shared/corpus/xwlb --processes 2   embed on 2 cores, then build
  python -m indexer embed --source CORPUS --shard 2/4       one quarter of the vectors, into the cache only
  python -m indexer cache-merge /mnt/shard1 /mnt/shard2     gather caches filled elsewhere
  python -m indexer stats                                   what the alias points at
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m indexer", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build_cmd = commands.add_parser(
        "build", help="index sources into a new index and switch the alias to it",
        description="Parse, chunk and embed the sources, bulk-load them into a new versioned index, "
        "then point the alias at it in one atomic step. A failed build leaves the alias untouched "
        "and deletes its partial index. Unchanged text is not embedded again (embedding cache).",
    )
    build_cmd.add_argument("--source", action="append", required=True, type=Path, metavar="PATH",
                           help="file or directory to read; repeat for several")
    build_cmd.add_argument("--alias", help="alias to build behind (default: INDEX_ALIAS)")
    build_cmd.add_argument("--model", help="embedding model (default: EMBEDDING_MODEL)")
    build_cmd.add_argument("--incremental", action="store_true",
                           help="write new and changed articles into the live index instead of building a new one, "
                           "and remove the articles a source's files no longer hold (a file deleted or renamed, a "
                           "page's title or a record's id changed); a file read with a problem keeps its articles")
    build_cmd.add_argument("--if-missing", action="store_true",
                           help="do nothing when the alias already exists (used by `make run`)")
    build_cmd.add_argument("--processes", type=int, default=1, metavar="N",
                           help="first embed the passages in N processes at once (shards of `embed`, into the "
                                "cache; one BLAS thread each unless EMBEDDING_THREADS is set), then build from "
                                "the warm cache: for a first build on a machine with N free cores (default 1: "
                                "the build embeds as it loads)")
    build_cmd.add_argument("--allow-shrink", action="store_true",
                           help="switch even when the new index holds far fewer articles than the live one "
                                "(more than REBUILD_MAX_DROP fewer; without it such a build fails, alias unchanged); "
                                "with --incremental, remove that many")
    build_cmd.add_argument("--quiet", action="store_true", help="no progress bar")

    inspect_cmd = commands.add_parser(
        "inspect", help="print the articles and passages sources produce, without Elasticsearch",
        description="Parse and chunk the sources exactly as `build` would and print the result, "
        "so a person can check titles, dates, departments and passage boundaries.",
    )
    inspect_cmd.add_argument("--source", action="append", required=True, type=Path, metavar="PATH")
    inspect_cmd.add_argument("--passages", action="store_true", help="also print every passage")
    inspect_cmd.add_argument("--json", action="store_true", help="one JSON object per article")

    embed_cmd = commands.add_parser(
        "embed", help="compute passage vectors into the embedding cache only (one shard of them)",
        description="Parse and chunk the sources as `build` does and compute the vectors of one shard of "
        "their passages into the embedding cache (EMBEDDING_CACHE_DIR), without Elasticsearch. Run the N "
        "shards in N processes or on N machines, merge their caches with `cache-merge`, and a `build` of the "
        "same sources then embeds nothing. Passages already cached are skipped, so a stopped run resumes.",
    )
    embed_cmd.add_argument("--source", action="append", required=True, type=Path, metavar="PATH",
                           help="file or directory to read; repeat for several")
    embed_cmd.add_argument("--shard", default="1/1", metavar="K/N",
                           help="embed the K-th of N disjoint shards of the passages (default 1/1: all)")
    embed_cmd.add_argument("--model", help="embedding model (default: EMBEDDING_MODEL)")
    embed_cmd.add_argument("--quiet", action="store_true", help="no progress bar")

    merge_cmd = commands.add_parser(
        "cache-merge", help="copy the vectors of other embedding caches into this one",
        description="Add to the embedding cache in EMBEDDING_CACHE_DIR every vector it lacks from the given "
        "caches (their directories or embeddings.sqlite3 files), e.g. those `embed --shard` filled elsewhere.",
    )
    merge_cmd.add_argument("caches", nargs="+", type=Path, metavar="CACHE",
                           help="a cache directory or its embeddings.sqlite3 file")

    stats_cmd = commands.add_parser("stats", help="the alias, its index, counts, size and embedding model")
    stats_cmd.add_argument("--alias", help="alias to describe (default: INDEX_ALIAS)")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    commands_run = {"build": _build, "embed": _embed, "cache-merge": _cache_merge, "inspect": _inspect,
                    "stats": _stats}
    return elastic.run_command(lambda: commands_run[args.command](args), settings_or_exit().elasticsearch_url_shown)


def _build(args: argparse.Namespace) -> int:
    settings = get_settings()
    alias = args.alias or settings.index_alias
    es = elastic.connect(settings.elasticsearch_hosts)
    if args.if_missing and elastic.alias_target(es, alias):
        print(f"alias {alias!r} already points at {elastic.alias_target(es, alias)}: nothing to do")
        return 0
    if not _sources_exist(args.source):
        return 2
    if args.processes < 1:
        print("error: --processes must be at least 1", file=sys.stderr)
        return 2
    from service.jobs import Fenced, JobConflict, cli_lease

    cancel = threading.Event()
    # The lease serialises changes of the alias the API serves; another alias (a benchmark's) needs none. It is
    # taken first, so a build refused by it stops before loading the model or embedding anything.
    lease = cli_lease(es, settings, "build", on_lost=cancel.set) if alias == settings.index_alias else None
    try:
        with lease or contextlib.nullcontext():
            result = _build_holding(args, settings, es, alias, lease, cancel)
    except JobConflict as conflict:
        print(f"error: {conflict.for_operator(alias)}", file=sys.stderr)
        return 2
    except (BuildFailed, BuildCancelled, Fenced) as exc:
        outcome = ("incremental build failed: the new and changed articles written so far stay in the live index, "
                   "nothing was removed" if args.incremental else f"build failed, alias {alias!r} unchanged")
        print(f"{outcome}: {exc or type(exc).__name__}", file=sys.stderr)
        return 1
    if result is None:
        return 1
    print(_summary(result, alias))
    return 0


def _build_holding(args: argparse.Namespace, settings: Settings, es: Elasticsearch, alias: str,
                   lease: Lease | None, cancel: threading.Event) -> BuildResult | None:
    """`build` once the lease is held (None: the embedding pre-pass failed, said why)."""
    from indexer.embeddings import load_embedder

    model = args.model or settings.embedding_model
    print(f"loading embedding model {model!r} ...", flush=True)
    threads = settings.embedding_threads or (THREADS_PER_PROCESS if args.processes > 1 else None)
    embedder = load_embedder(model, settings.embedding_cache_dir, threads=threads)
    if args.processes > 1 and not _embed_first(embedder, args, settings.embedding_batch_size):
        return None

    bar = None if args.quiet else tqdm(total=0, unit="passage", desc="indexing", dynamic_ncols=True)

    def on_progress(progress: BuildProgress) -> None:
        if bar is None:
            return
        bar.total = progress.passages_total
        bar.n = progress.passages_loaded
        bar.set_postfix_str(progress.phase if progress.parsing_done else f"{progress.phase}, still parsing")
        bar.refresh()

    journal = Journal(es, settings.journal_index, alias)

    def before_switch(index: str) -> None:
        """Articles written through /admin/documents survive a rebuild from the CLI as from the API; the
        switch happens only while this build still holds the reindex lease."""
        replayed = journal.replay(index, lambda: embedder, batch_size=settings.embedding_batch_size)
        if replayed:
            print(f"replayed {replayed} journaled admin writes into {index}", flush=True)
        if lease is not None:
            lease.renew()

    def after_switch(index: str) -> None:
        """Admin writes made between the replay and the switch went to the old live index only (a CLI build is no
        job whose index they also go to): they are journaled, so a second replay brings them in."""
        try:
            replayed = journal.replay(index, lambda: embedder, batch_size=settings.embedding_batch_size)
        except Exception as exc:  # the switch stands; the next build or rollback replays them
            print(f"warning: replaying admin writes made during the switch failed: {exc}", file=sys.stderr)
            return
        if replayed:
            print(f"replayed {replayed} admin writes made during the switch into {index}", flush=True)

    try:
        return build(es, embedder, args.source, alias=alias, keep_previous=settings.keep_previous_indices,
                     batch_size=settings.embedding_batch_size, incremental=args.incremental,
                     on_progress=on_progress, layout=settings.index_layout,
                     segmenter=settings.word_segmenter, merge_segments=settings.index_merge_segments,
                     cancel=cancel, before_switch=before_switch, after_switch=after_switch,
                     max_drop=1.0 if args.allow_shrink else settings.rebuild_max_drop,
                     journaled=journal.latest().keys() if args.incremental else ())
    finally:
        if bar is not None:
            bar.close()


def _sources_exist(sources: list[Path]) -> bool:
    """True when every source exists; else False, after saying which do not."""
    missing = [str(path) for path in sources if not path.exists()]
    if missing:
        print(f"error: no such source: {', '.join(missing)}", file=sys.stderr)
    return not missing


def _shard_bar(desc: str, quiet: bool) -> tuple[tqdm[Any] | None, Callable[[ShardProgress], None]]:
    """A progress bar for one shard's embedding (None when quiet) and the callback that moves it."""
    bar = None if quiet else tqdm(total=0, unit="passage", desc=desc, dynamic_ncols=True)

    def on_progress(progress: ShardProgress) -> None:
        if bar is not None:
            bar.total, bar.n = progress.total, progress.done
            bar.set_postfix_str(f"{progress.computed} computed")
            bar.refresh()

    return bar, on_progress


def _embed_first(embedder: Embedder, args: argparse.Namespace, batch_size: int) -> bool:
    """`build --processes N`: the vectors into the cache in N processes; False (and a message) on failure."""
    bar, on_progress = _shard_bar(f"embedding, shard 1/{args.processes}", args.quiet)
    try:
        mine = embed_in_processes(embedder, args.source, args.processes, batch_size=batch_size,
                                  on_progress=on_progress)
    except ShardError as exc:
        print(f"build failed before indexing, alias unchanged: {exc}", file=sys.stderr)
        return False
    finally:
        if bar is not None:
            bar.close()
    print(f"embedded in {args.processes} processes: {mine.passages} distinct passages, "
          f"{mine.seconds:.1f} s for this process's shard ({mine.computed} computed)", flush=True)
    return True


def _summary(result: BuildResult, alias: str) -> str:
    report = result.report
    skipped = report.files_skipped + report.records_skipped
    in_place = result.previous_index == result.index  # an incremental build
    lines = [
        f"alias {alias} -> {result.index}" + (
            " (written in place: new and changed articles, and removed what the files no longer hold)" if in_place
            else f" (was {result.previous_index})" if result.previous_index else ""),
        f"  read       {report.files_read} files, {report.records_read} records, {skipped} skipped"
        + (f" ({len(report.problems)} problems)" if report.problems else ""),
        f"  articles   {result.articles}" + (f" (+{result.skipped_unchanged} unchanged, not rewritten)"
                                              if result.skipped_unchanged else ""),
        f"  passages   {result.passages}",
        f"  time       {result.seconds:.1f} s, {result.passages_per_second:.1f} passages/s end to end",
        f"  embedding  {result.embed_seconds:.1f} s  (cache: {result.cache_hits} hits, {result.cache_misses} computed)",
        f"  loading    {result.load_seconds:.1f} s  (overlaps embedding)",
    ]
    if in_place:
        lines.append(f"  removed    {result.removed} articles their files no longer hold")
    if result.journaled:
        lines.append(f"  kept       {result.journaled} articles an administrator wrote or deleted (the journal's "
                     "version stands, not the file's)")
    if result.unrecorded:
        lines.append(f"  kept       {result.unrecorded} articles with no recorded file (indexed before files were "
                     "recorded) that no source held this time: if their files are gone, a full build removes them")
    if result.pruned:
        lines.append(f"  removed    {', '.join(result.pruned)}")
    for problem in report.problems[:10]:
        lines.append(_problem_line(problem))
    if len(report.problems) > 10:
        lines.append(f"  ... and {len(report.problems) - 10} more problems (`indexer inspect` lists them all)")
    return "\n".join(lines)


def _embed(args: argparse.Namespace) -> int:
    from indexer.embeddings import load_embedder

    try:
        shard, shards = parse_shard(args.shard)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not _sources_exist(args.source):
        return 2
    settings = get_settings()
    model = args.model or settings.embedding_model
    print(f"loading embedding model {model!r} ...", flush=True)
    embedder = load_embedder(model, settings.embedding_cache_dir, threads=settings.embedding_threads)
    bar, on_progress = _shard_bar(f"shard {args.shard}", args.quiet)
    try:
        result = embed_shard(embedder, args.source, shard=shard, shards=shards,
                             batch_size=settings.embedding_batch_size, on_progress=on_progress)
    except ShardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
        embedder.close()
    rate = result.computed / result.seconds if result.seconds > 0 else 0.0
    print(f"shard {args.shard} of {result.passages} distinct passages ({result.articles} articles): "
          f"{result.in_shard} in this shard, {result.computed} computed, {result.cached} already cached, "
          f"{result.seconds:.1f} s ({rate:.1f} computed/s)\n  cache  {embedder.cache_path}")
    for problem in result.report.problems[:10]:
        print(_problem_line(problem))
    return 0


def _cache_merge(args: argparse.Namespace) -> int:
    import sqlite3

    from indexer.embeddings import CACHE_DB_NAME, EmbeddingCache

    files = [path / CACHE_DB_NAME if path.is_dir() else path for path in args.caches]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        print(f"error: no embedding cache at {', '.join(missing)}", file=sys.stderr)
        return 2
    target = EmbeddingCache(get_settings().embedding_cache_dir / CACHE_DB_NAME)
    try:
        for path in files:
            if path.resolve() == target.path.resolve():
                print(f"{path}: the target cache itself, skipped")
                continue
            try:
                added = target.merge_from(path)
            except sqlite3.Error as exc:
                print(f"error: {path} is not a readable embedding cache ({exc}); the caches before it are merged",
                      file=sys.stderr)
                return 1
            print(f"{path}: {added} vectors added")
        print(f"{target.path}: {target.count()} vectors")
    finally:
        target.close()
    return 0


def _inspect(args: argparse.Namespace) -> int:
    if not _sources_exist(args.source):
        return 2
    report = ReadReport()
    for article in read_sources(args.source, report):
        passages = split_passages(article)
        if args.json:
            record = article.model_dump()
            record["passages"] = [p.text for p in passages] if args.passages else len(passages)
            print(json.dumps(record, ensure_ascii=False))
            continue
        print(f"== {article.title}")
        print(f"   id={article.article_id} date={article.date} publisher={article.publisher} town={article.town}")
        print(f"   department={article.department} section={article.section} newsletter={article.newsletter}"
              f" doc_number={article.doc_number}")
        print(f"   source={article.source} chars={len(article.body)} passages={len(passages)}")
        if args.passages:
            for passage in passages:
                print(textwrap.indent(f"[{passage.position}] {passage.text}", "      "))
        print()
    print(f"# {report.articles} articles from {report.files_read} files; "
          f"{report.files_skipped} files and {report.records_skipped} records skipped", file=sys.stderr)
    for problem in report.problems:
        print(f"# {_problem_line(problem).strip()}", file=sys.stderr)
    return 0


def _problem_line(problem: Problem) -> str:
    """A reported problem as the CLI prints it: `skipped` (not indexed) or `noted` (indexed, a part not read)."""
    return f"  {'noted  ' if problem.kept else 'skipped'}    {problem.path}:{problem.line or '-'}: {problem.reason}"


def _stats(args: argparse.Namespace) -> int:
    settings = get_settings()
    es = elastic.connect(settings.elasticsearch_hosts)
    alias = args.alias or settings.index_alias
    index = elastic.alias_target(es, alias)
    if index is None:
        print(f"alias {alias!r} does not exist on {settings.elasticsearch_url_shown}: run `python -m indexer build`")
        return 1
    print(json.dumps(elastic.index_stats(es, alias, index), ensure_ascii=False, indent=2))
    return 0
