"""The build: sources → articles → passages → embeddings → bulk load → alias switch.

Three stages run at once, joined by bounded queues: a parser thread, an
embedding thread and the bulk loader (the calling thread plus BULK_STREAMS - 1
more). Embedding is the slow stage; the queues keep it busy while parsing runs
ahead and loading trails just behind, so end-to-end speed approaches the
embedder's own. With a warm embedding cache the loader is the slow stage: its
streams keep several bulk requests in flight, so Elasticsearch indexes one
while the next is serialized and sent.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, NamedTuple

from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan, streaming_bulk
from numpy.typing import NDArray

from govsearch.actions import BULK_OPTIONS, article_actions, is_passage_doc_id
from govsearch.schema import Article, Passage, content_hash
from govsearch.settings import IndexLayout
from indexer import elastic
from indexer.embeddings import Embedder
from indexer.passages import embedding_text, split_passages
from indexer.sources import Problem, ReadReport, read_sources, source_name
from indexer.updates import delete_articles

log = logging.getLogger(__name__)

Phase = Literal["parsing", "embedding", "loading", "merging", "switching", "done"]
ProgressCallback = Callable[["BuildProgress"], None]

_DONE = object()

BULK_STREAMS = 2
"""Bulk requests in flight during a build (one per load-stage consumer)."""


class BuildCancelled(Exception):
    """Raised inside a build when its cancel event is set; the partial index is removed."""


class BuildFailed(Exception):
    """A build that could not complete; the alias was left untouched."""


class BuildShrinks(BuildFailed):
    """A build that would drop more of the live index's articles than it may (`max_drop`): a full build's new
    index holding too few, or an incremental build removing too many."""


def check_shrink(es: Elasticsearch, live: str, index: str, max_drop: float) -> None:
    """BuildShrinks when `index` holds fewer than (1 - `max_drop`) of the articles `live` holds: a source
    path mistyped or half-copied would otherwise replace the live index with a fraction of it. Both
    counts include the admin writes the journal replayed into `index`."""
    if max_drop >= 1:
        return
    before, after = elastic.doc_count(es, live), elastic.doc_count(es, index)
    if before and after < before * (1 - max_drop):
        raise BuildShrinks(
            f"the new index holds {after} articles where the live index {live!r} holds {before} "
            f"({1 - after / before:.0%} fewer), more than the {max_drop:.0%} a rebuild may drop (REBUILD_MAX_DROP); "
            "check the sources, or ask for the smaller index explicitly (allow_shrink / --allow-shrink)")


@dataclass
class BuildProgress:
    phase: Phase = "parsing"
    articles: int = 0
    passages_total: int = 0
    parsing_done: bool = False
    passages_embedded: int = 0
    passages_loaded: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Passages loaded per second since the start."""
        elapsed = time.monotonic() - self.started
        return self.passages_loaded / elapsed if elapsed > 0 else 0.0


@dataclass
class BuildResult:
    index: str
    previous_index: str | None
    articles: int
    passages: int
    skipped_unchanged: int
    failed_documents: int
    seconds: float
    embed_seconds: float
    load_seconds: float
    cache_hits: int
    cache_misses: int
    report: ReadReport
    pruned: list[str]
    removed: int = 0  # incremental: articles removed because their file no longer holds them (`stale_articles`)
    unrecorded: int = 0  # incremental: articles not read this time, no file recorded, not journaled: kept
    journaled: int = 0  # incremental: articles of the sources an administrator wrote or deleted: left to the journal

    @property
    def passages_per_second(self) -> float:
        return self.passages / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["report"] = {k: v for k, v in asdict(self.report).items() if k != "problems"}
        data["problems"] = [asdict(p) for p in self.report.problems[:100]]
        data["passages_per_second"] = round(self.passages_per_second, 1)
        return data


DISCARD_SECONDS = 120.0
"""How long a failed build tries to delete its partial index while Elasticsearch is away."""


def _discard(es: Elasticsearch, index: str) -> None:
    """Delete a failed or cancelled build's index, tried again for DISCARD_SECONDS while the node is away (the
    build may have failed because it went away); past that, said in the log: the next successful build of the
    alias prunes it. Never raises: the build's own error is the one to report."""
    try:
        elastic.retried(lambda: elastic.delete_index(es, index), f"deleting the failed build's index {index}",
                        within=DISCARD_SECONDS)
    except Exception:
        log.warning("the failed build's index %s could not be deleted; the next successful build prunes it", index,
                    exc_info=True)


class _Stage(threading.Thread):
    """A pipeline thread whose exception is re-raised in the caller instead of dying silently."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:
            self.error = exc


class _Pipeline:
    def __init__(self, es: Elasticsearch, embedder: Embedder, index: str, *, batch_size: int,
                 progress: BuildProgress, on_progress: ProgressCallback | None,
                 cancel: threading.Event, known: dict[str, Stored], journaled: Collection[str]) -> None:
        self.es, self.embedder, self.index = es, embedder, index
        self.batch_size = batch_size
        self.progress, self.on_progress, self.cancel = progress, on_progress, cancel
        self.known = known  # what the target index already holds, by article id
        self.journaled = frozenset(journaled)  # ids whose version is the admin journal's, never the sources'
        self.seen: set[str] = set()  # every article id read from the sources, changed or not
        self.read: set[str] = set()  # the files (`origin`) articles were read from
        self.kept_journaled = 0
        # Parsing is ~100x faster than embedding: let it run far ahead (tens of MB at most) so the
        # progress bar knows the total early, while memory stays bounded on huge corpora.
        self.parsed: queue.Queue[Any] = queue.Queue(maxsize=20_000)
        self.embedded: queue.Queue[Any] = queue.Queue(maxsize=8)
        self.embed_seconds = 0.0
        self.skipped_unchanged = 0
        self.failed: list[dict[str, Any]] = []

    def _put(self, q: queue.Queue[Any], item: Any) -> None:
        while True:
            if self.cancel.is_set():
                raise BuildCancelled()
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _put_final(self, q: queue.Queue[Any]) -> None:
        """Mark the end of a stage's output, unless the build is being torn down anyway."""
        with contextlib.suppress(BuildCancelled):
            self._put(q, _DONE)

    def _get(self, q: queue.Queue[Any], producer: _Stage) -> Any:
        while True:
            if self.cancel.is_set():
                raise BuildCancelled()
            try:
                return q.get(timeout=0.2)
            except queue.Empty:
                if producer.error is not None:
                    raise producer.error from None
                continue

    def _notify(self) -> None:
        if self.on_progress:
            self.on_progress(self.progress)

    def parse(self, sources: Iterable[str | Path], report: ReadReport) -> None:
        try:
            for article in read_sources(sources, report):
                self.seen.add(article.article_id)
                if article.origin is not None:
                    self.read.add(article.origin)
                if article.article_id in self.journaled:
                    self.kept_journaled += 1
                    continue
                digest = content_hash(article)
                stored = self.known.get(article.article_id)
                if stored is not None and stored.content_hash == digest and stored.origin == article.origin:
                    self.skipped_unchanged += 1
                    continue
                passages = split_passages(article)
                self.progress.articles += 1
                self.progress.passages_total += len(passages)
                self._put(self.parsed, (article, digest, passages))
        finally:
            self.progress.parsing_done = True
            self._put_final(self.parsed)

    def embed(self, parser: _Stage) -> None:
        pending: list[tuple[Article, str, list[Passage]]] = []
        pending_passages = 0
        finished = False
        while not finished:
            item = self._get(self.parsed, parser)
            if item is _DONE:
                finished = True
            else:
                pending.append(item)
                pending_passages += len(item[2])
            if pending and (finished or pending_passages >= self.batch_size):
                self._put(self.embedded, self._embed_batch(pending))
                pending, pending_passages = [], 0
        self._put_final(self.embedded)

    def _embed_batch(self, items: list[tuple[Article, str, list[Passage]]]) -> list[dict[str, Any]]:
        texts = [embedding_text(article, p) for article, _, passages in items for p in passages]
        started = time.monotonic()
        vectors: Sequence[Any] | NDArray[Any] = (
            self.embedder.embed_passages(texts, batch_size=self.batch_size) if texts else [])
        self.embed_seconds += time.monotonic() - started
        self.progress.phase = "embedding"
        self.progress.passages_embedded += len(texts)
        self._notify()  # a cold cache embeds a batch in seconds, long before the first loaded passages are told
        actions: list[dict[str, Any]] = []
        row = 0
        for article, digest, passages in items:
            stored = self.known.get(article.article_id)
            actions.extend(article_actions(self.index, article, passages, vectors[row:row + len(passages)],
                                           digest=digest, old_passage_count=stored.passage_count if stored else 0))
            row += len(passages)
        return actions

    def batches(self, embedder_stage: _Stage) -> Iterator[list[dict[str, Any]]]:
        while True:
            batch = self._get(self.embedded, embedder_stage)
            if batch is _DONE:
                return
            yield batch

    def load(self, embedder_stage: _Stage) -> float:
        """The load stage (see `bulk_load`); returns its wall time."""
        started = time.monotonic()
        bulk_load(self.es, self.batches(embedder_stage), self._tally, cancel=self.cancel)
        return time.monotonic() - started

    def _tally(self, ok: bool, item: dict[str, Any]) -> None:
        if not ok and not _is_missing_delete(item):
            self.failed.append(item)
            log.error("document rejected: %s", item)
        elif is_passage_doc_id(item.get("index", {}).get("_id", "")):
            self.progress.phase = "loading"
            self.progress.passages_loaded += 1
            if self.progress.passages_loaded % 200 == 0:
                self._notify()


def bulk_load(es: Elasticsearch, batches: Iterator[list[dict[str, Any]]],
              on_result: Callable[[bool, dict[str, Any]], None], *, streams: int = BULK_STREAMS,
              cancel: threading.Event | None = None) -> None:
    """Send the actions of `batches` with `streams` `streaming_bulk` consumers at once.

    A consumer takes whole batches, so the actions of one batch (an article's deletes of its
    surplus passages, the article, its passages) reach Elasticsearch in one stream and in order.
    `on_result(ok, item)` sees every outcome, one call at a time. The first failure sets `cancel`
    (the other consumers and whatever else watches it stop) and is raised once all have stopped.
    """
    cancel = cancel or threading.Event()
    take, tally = threading.Lock(), threading.Lock()

    def actions() -> Iterator[dict[str, Any]]:
        while True:
            with take:
                batch = next(batches, None)
            if batch is None:
                return
            yield from batch

    def consume() -> None:
        try:
            for ok, item in streaming_bulk(es, actions(), **BULK_OPTIONS,
                                           raise_on_error=False, raise_on_exception=True):
                with tally:
                    on_result(ok, item)
        except BaseException:
            cancel.set()
            raise

    helpers = [_Stage(f"load-{n}", consume) for n in range(1, streams)]
    for helper in helpers:
        helper.start()
    own = _Stage("load-0", consume)
    own.run()  # on the calling thread
    for helper in helpers:
        helper.join()
    errors = [stage.error for stage in (own, *helpers) if stage.error is not None]
    if errors:  # the first real failure, not the cancellation it caused in the other consumers
        raise next((e for e in errors if not isinstance(e, BuildCancelled)), errors[0])


def build(
    es: Elasticsearch,
    embedder: Embedder,
    sources: Iterable[str | Path],
    *,
    alias: str,
    keep_previous: int = 1,
    batch_size: int = 64,
    incremental: bool = False,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    on_index_created: Callable[[str], None] | None = None,
    before_switch: Callable[[str], None] | None = None,
    after_switch: Callable[[str], None] | None = None,
    layout: IndexLayout | None = None,
    segmenter: str = "smartcn",
    merge_segments: int = 0,
    max_drop: float = 1.0,
    journaled: Collection[str] = (),
) -> BuildResult:
    """Build an index from `sources` and make it live under `alias`.

    Full builds write a new versioned index and switch the alias atomically at
    the end; on any failure or cancellation the new index is deleted and the
    alias is untouched. Incremental builds write new and changed articles into
    the live index in place, skipping articles whose content hash is unchanged.

    before_switch: called with the loaded, refreshed index (new, or live when incremental) right
        before the alias switch; what it writes is part of the switch (the service replays the admin
        journal and checks its job's lease here). Raising fails the build like any other error.
    after_switch: called with the index a full build made live, once it is (the CLI replays the journal again:
        admin writes made since `before_switch` went to the old live index only). The switch stands whatever
        it does: it must handle its own errors.
    `layout` sets the new index's shards and replicas (None: as in mappings/articles.json); `segmenter`
    its word analysis (WORD_SEGMENTER), `merge_segments` the segments per shard it is force-merged into before
    the switch (INDEX_MERGE_SEGMENTS; 0: none; with a merge the vectors load without an HNSW graph and the
    merge builds it, once: `elastic.create_articles_index`'s `graph_at_merge`). All three apply to full builds;
    an incremental one writes into the live index as it is.
    max_drop: the share of the live index's articles a full build may leave out; more fails the build with
        BuildShrinks before the switch (`check_shrink`; REBUILD_MAX_DROP). 1.0, the default here: no check. An
        incremental build fails the same way, before removing any, when what it would remove less what it adds
        exceeds that share (files renamed: as many added as removed).
    journaled: the article ids the admin journal governs (`indexer.journal.Journal.latest`): an incremental build
        neither writes them from the sources nor removes them, so an article an administrator deleted or edited
        stays so while the build runs and whatever it ends in; the journal's replay decides them. A full build
        writes them and replays the journal into its index before the switch.
    """
    started = time.monotonic()
    sources = list(sources)  # read twice: by the parser, and by an incremental build's `stale_articles`
    cancel = cancel or threading.Event()
    report = ReadReport()
    progress = BuildProgress()
    hits_before, misses_before = embedder.cache_hits, embedder.cache_misses

    live = elastic.alias_target(es, alias)
    index: str
    if incremental:
        if live is None:
            raise BuildFailed(f"incremental build needs a live index behind alias {alias!r}; run a full build first")
        meta = elastic.index_meta(es, live)
        if meta.get("embedding_model") != embedder.name:
            raise BuildFailed(
                f"the live index was embedded with {meta.get('embedding_model')!r}, not {embedder.name!r}: "
                "a model change needs a full build"
            )
        index = live
        elastic.add_new_fields(es, live)  # `origin`, in an index built before it was mapped
        known = _stored_articles(es, live)
    else:
        index = elastic.create_articles_index(es, alias, dims=embedder.dims, model=embedder.name, layout=layout,
                                              segmenter=segmenter, graph_at_merge=merge_segments > 0)
        if on_index_created:
            on_index_created(index)
        known = {}

    pipeline = _Pipeline(es, embedder, index, batch_size=batch_size, progress=progress, on_progress=on_progress,
                         cancel=cancel, known=known, journaled=journaled if incremental else ())
    try:
        parser = _Stage("parse", lambda: pipeline.parse(sources, report))
        embedding = _Stage("embed", lambda: pipeline.embed(parser))
        parser.start()
        embedding.start()
        load_seconds = pipeline.load(embedding)
        for stage in (parser, embedding):
            stage.join()
            if stage.error is not None:
                raise stage.error
        if pipeline.failed:
            raise BuildFailed(f"{len(pipeline.failed)} documents were rejected, first: {pipeline.failed[0]}")
        if cancel.is_set():
            raise BuildCancelled()
        if progress.articles == 0 and not incremental:
            raise BuildFailed(f"no articles were read from the sources ({_problems_summary(report)})")
        removed = unrecorded = 0
        if incremental:
            es.indices.refresh(index=index)  # what was written is searched, whatever follows
            stale = stale_articles(known, pipeline.seen, sources, report, read=pipeline.read,
                                   keep=pipeline.journaled)
            added = len(pipeline.seen - known.keys() - pipeline.journaled)
            if max_drop < 1 and len(stale) - added > len(known) * max_drop:
                raise BuildShrinks(
                    f"the incremental build would remove {len(stale)} of the {len(known)} articles of {live!r} (their "
                    f"files no longer hold them) and add {added}, a drop of more than the {max_drop:.0%} a rebuild "
                    f"may make (REBUILD_MAX_DROP); the {progress.articles} new and changed articles were written, "
                    "nothing was removed. Check the sources, or ask for the removal explicitly (allow_shrink / "
                    "--allow-shrink)")
            removed = delete_articles(es, index, stale, cancel=cancel)
            unrecorded = sum(1 for article_id, stored in known.items() if stored.origin is None
                             and article_id not in pipeline.seen and article_id not in pipeline.journaled)
            if stale:
                es.indices.refresh(index=index)
        else:
            elastic.finish_index(es, index)
            if merge_segments:
                progress.phase = "merging"
                pipeline._notify()
                elastic.merge_segments(es, index, merge_segments)
                if cancel.is_set():  # asked while the (uninterruptible) merge ran
                    raise BuildCancelled()
        progress.phase = "switching"
        pipeline._notify()
        if before_switch:
            before_switch(index)
        if live is not None and not incremental:
            # The index was refreshed by finish_index, and the journal's replayed writes refresh what they touch.
            check_shrink(es, live, index, max_drop)
        previous = live if incremental else elastic.switch_alias(es, alias, index)
    except BaseException:
        cancel.set()  # stops the other stages promptly
        if not incremental:
            _discard(es, index)
        raise
    if after_switch and not incremental:
        after_switch(index)
    pruned = [] if incremental else elastic.prune_indices(es, alias, keep_previous)
    progress.phase = "done"
    pipeline._notify()
    return BuildResult(
        index=index,
        previous_index=previous,
        articles=progress.articles,
        passages=progress.passages_loaded,
        skipped_unchanged=pipeline.skipped_unchanged,
        failed_documents=len(pipeline.failed),
        seconds=time.monotonic() - started,
        embed_seconds=pipeline.embed_seconds,
        load_seconds=load_seconds,
        cache_hits=embedder.cache_hits - hits_before,
        cache_misses=embedder.cache_misses - misses_before,
        report=report,
        pruned=pruned,
        removed=removed,
        unrecorded=unrecorded,
        journaled=pipeline.kept_journaled,
    )


def _is_missing_delete(item: dict[str, Any]) -> bool:
    """Deleting a passage that is already gone is the outcome we wanted, not an error."""
    return item.get("delete", {}).get("status") == 404


class Stored(NamedTuple):
    """What an index holds of an article, as an incremental build compares it with the sources."""

    content_hash: str
    passage_count: int
    origin: str | None  # the file it was read from; None: an admin write, or indexed before files were recorded


def _stored_articles(es: Elasticsearch, index: str) -> dict[str, Stored]:
    return {
        doc["article_id"]: Stored(doc.get("content_hash", ""), doc.get("passage_count", 0), doc.get("origin"))
        for doc in (hit["_source"] for hit in scan(
            es, index=index, query={"query": {"term": {"doc_type": "article"}}},
            _source=["article_id", "content_hash", "passage_count", "origin"]))
    }


def stale_articles(known: dict[str, Stored], seen: set[str], sources: Iterable[str | Path], report: ReadReport, *,
                   read: set[str], keep: Collection[str] = ()) -> list[str]:
    """The articles an incremental build of `sources` removes: those recorded as read from a file in one of
    the sources (the source itself, or under it) that it no longer holds. That file is gone, or it was read
    whole this time and no article of it had the id (the record's id or the page's title changed, the
    article was taken out). `read`: the files articles were read from this time; `keep`: ids never removed
    (the admin journal's).

    Kept: the articles of a file, or of a directory, the read reported a problem with (unreadable, a record
    skipped, no article found, a symbolic link not followed); of a source path that does not exist; and of a
    source under which no file was read at all (an empty mount point: a share not mounted is not an emptied
    one), which the read report then notes."""
    def under(path: PurePosixPath, places: list[PurePosixPath]) -> bool:
        return any(path.is_relative_to(place) for place in places)

    roots = [PurePosixPath(source_name(Path(path))) for path in sources if Path(path).exists()]
    unread = [PurePosixPath(_own_name(Path(problem.path))) for problem in report.problems if not problem.kept]
    read_paths = [PurePosixPath(origin) for origin in read]
    empty = [root for root in roots if not any(under(path, [root]) for path in read_paths)]
    stale: list[str] = []
    for article_id, stored in known.items():
        if article_id in seen or article_id in keep or stored.origin is None:
            continue
        origin = PurePosixPath(stored.origin)
        if under(origin, roots) and not under(origin, unread) and not under(origin, empty):
            stale.append(article_id)
    for root in empty:
        held = sum(1 for stored in known.values() if stored.origin and under(PurePosixPath(stored.origin), [root]))
        if held:
            report.problems.append(Problem(str(root), None, f"no file was read here this time: the {held} articles "
                                           "recorded from it are kept (a share not mounted?)", kept=True))
    return sorted(stale)


def _own_name(path: Path) -> str:
    """`source_name` of `path` itself, not of what it links to: a symbolic link not followed is named as the link."""
    return str(PurePosixPath(source_name(path.parent)) / path.name) if path.name else source_name(path)


def _problems_summary(report: ReadReport) -> str:
    if not report.problems:
        return "no readable files"
    first = report.problems[0]
    return f"{len(report.problems)} problems, first: {first.path}:{first.line or '-'} {first.reason}"
