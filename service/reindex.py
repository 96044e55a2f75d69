"""Running a reindex job in the background of an API process.

The build itself is the indexer's (`indexer.pipeline.build`); this module only
ties it to a job document: progress and heartbeat out, cancellation in (a
cancel request may arrive at any replica, so it travels through the job doc).

Invariants:
- The heartbeat (lease renewal, progress, the cancel flag) runs on a thread of
  its own; the build thread only records progress in memory, so a build stuck
  in a slow Elasticsearch call still heartbeats.
- Right before its alias switch a build replays the admin journal into its new
  index and renews its lease; a job fenced off there (`Fenced`) switches nothing
  and its index is deleted.
- A job's end is written with `JobStore.transition` from an active state, so a
  job already failed (abandoned) or cancelled stays so. Before it, the heartbeat
  is stopped and a beat in progress waited for; after it, the lease is released.
- A job that succeeded compacts the admin journal (`Journal.compact`, which changes
  nothing a rebuild or rollback produces); a failed compaction is logged, not fatal.
- A job's end is recorded even when Elasticsearch is away at that moment: writing it
  (and releasing the lease) is retried until LEASE has passed, so a job that failed
  because the node went down says so once it is back, instead of "running" until its
  lease expires and then "abandoned".
- An API process that stops (SIGTERM, a deploy) cancels its running jobs and waits up to
  SHUTDOWN_WAIT for each to end: cancelled, its partial index deleted, its lease
  released, so the next process need not wait out the lease.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from elasticsearch import Elasticsearch

from govsearch.settings import Settings
from indexer import elastic
from indexer.embeddings import Embedder
from indexer.journal import Journal
from indexer.pipeline import BuildCancelled, BuildFailed, BuildProgress, build
from service.embedding import EmbedderPool
from service.jobs import ACTIVE_STATES, HEARTBEAT_SECONDS, LEASE, Fenced, JobStore, iso, now

log = logging.getLogger(__name__)

SHUTDOWN_WAIT = 30.0  # seconds a stopping API process waits for each cancelled job to clean up
_T = TypeVar("_T")


class _Heartbeat(threading.Thread):
    """Renews the job's lease and reports its progress every HEARTBEAT_SECONDS; reads the cancel flag.
    Fenced off, it sets `fenced` and `cancel`, which stops the build."""

    def __init__(self, store: JobStore, job_id: str, cancel: threading.Event) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.store, self.job_id, self.cancel = store, job_id, cancel
        self.progress: BuildProgress | None = None  # set by the build thread, read here
        self.fenced: Fenced | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(HEARTBEAT_SECONDS):
            try:
                self.beat()
            except Fenced as exc:
                log.error("job %s: %s; stopping it", self.job_id, exc)
                self.fenced = exc
                self.cancel.set()
                return
            except Exception:  # a missed heartbeat is retried on the next tick; the lease outlasts several
                log.warning("job %s: heartbeat failed", self.job_id, exc_info=True)

    def stop(self) -> None:
        """No beat after this returns: one in progress (a slow Elasticsearch call, at most LEASE) is waited
        for, so it can neither overwrite the job's final fields nor find its released lease and cry fenced."""
        self.stopped.set()
        if self.is_alive():
            self.join(timeout=LEASE.total_seconds())

    def progress_fields(self) -> dict[str, object]:
        """The job record's progress fields as the build last told them (none before it told any)."""
        progress = self.progress
        if progress is None:
            return {}
        return {"phase": progress.phase, "done": progress.passages_loaded, "total": progress.passages_total,
                "articles": progress.articles, "rate": round(progress.rate, 1)}

    def beat(self) -> None:
        self.store.renew(self.job_id)
        self.store.update(self.job_id, heartbeat=iso(now()), **self.progress_fields())
        current = self.store.get(self.job_id)
        if current and current.get("cancel_requested"):
            self.cancel.set()


class ReindexRunner:
    def __init__(self, es: Elasticsearch, store: JobStore, pool: EmbedderPool, settings: Settings) -> None:
        self.es = es
        self.store = store
        self.pool = pool
        self.settings = settings
        self.journal = Journal(es, settings.journal_index, settings.index_alias)
        self.threads: dict[str, threading.Thread] = {}
        self.cancels: dict[str, threading.Event] = {}
        self.shutting_down = threading.Event()

    def start(self, job: dict, sources: list[Path]) -> None:
        self.cancels[job["job_id"]] = threading.Event()
        thread = threading.Thread(target=self._run, args=(job, sources), name=f"reindex-{job['job_id']}",
                                  daemon=True)
        self.threads[job["job_id"]] = thread
        thread.start()

    def shutdown(self, wait: float = SHUTDOWN_WAIT) -> None:
        """Cancel every job this process runs and wait up to `wait` seconds for each to end (blocking)."""
        self.shutting_down.set()
        running = {job_id: thread for job_id, thread in self.threads.items() if thread.is_alive()}
        for job_id in running:
            log.warning("job %s: the API process is stopping: cancelling it", job_id)
            self.cancels[job_id].set()
        for job_id, thread in running.items():
            thread.join(timeout=wait)
            if thread.is_alive():
                log.error("job %s did not end within %.0f s of the shutdown; its lease expires in %s",
                          job_id, wait, LEASE)

    def _run(self, job: dict, sources: list[Path]) -> None:
        job_id = job["job_id"]
        cancel = self.cancels[job_id]  # set by `start`; `shutdown` sets it too
        heartbeat = _Heartbeat(self.store, job_id, cancel)
        if not self.store.transition(job_id, ("queued",), state="running", phase="parsing", started=iso(now())):
            self.store.release(job_id)  # cancelled or abandoned before it started
            return
        heartbeat.start()

        def on_progress(progress: BuildProgress) -> None:
            heartbeat.progress = progress

        try:
            embedder = self.pool.get(job["model"])
            result = build(
                self.es, embedder, sources, alias=self.settings.index_alias,
                keep_previous=self.settings.keep_previous_indices, batch_size=self.settings.embedding_batch_size,
                incremental=job["mode"] == "incremental", cancel=cancel, on_progress=on_progress,
                on_index_created=lambda index: self.store.update(job_id, new_index=index),
                before_switch=lambda index: self._before_switch(job_id, index, embedder),
                layout=self.settings.index_layout, segmenter=self.settings.word_segmenter,
                merge_segments=self.settings.index_merge_segments,
                max_drop=1.0 if job.get("allow_shrink") else self.settings.rebuild_max_drop,
                journaled=self.journal.latest().keys() if job["mode"] == "incremental" else (),
            )
        except (Fenced, BuildCancelled) as exc:
            fenced = exc if isinstance(exc, Fenced) else heartbeat.fenced
            if fenced is not None:
                self._finish(job_id, heartbeat, state="failed", error=f"fenced off: {fenced}")
            elif self.shutting_down.is_set():
                self._finish(job_id, heartbeat, state="cancelled", phase="cancelled",
                             error="the API process running it was stopped; start the job again")
            else:
                self._finish(job_id, heartbeat, state="cancelled", phase="cancelled", error=None)
        except BuildFailed as exc:  # the build's own refusal (nothing readable, documents rejected, it shrinks)
            log.warning("job %s failed: %s", job_id, exc)
            # where it got to: an incremental build's articles written so far stay in the live index
            self._finish(job_id, heartbeat, state="failed", error=f"{type(exc).__name__}: {exc}",
                         **heartbeat.progress_fields())
        except Exception as exc:  # every other failure ends as a failed job with its reason and traceback
            log.exception("job %s failed", job_id)
            self._finish(job_id, heartbeat, state="failed", error=f"{type(exc).__name__}: {exc}")
        else:
            self._finish(job_id, heartbeat, state="succeeded", phase="done", new_index=result.index,
                         previous_index=result.previous_index, done=result.passages, total=result.passages,
                         articles=result.articles, rate=round(result.passages_per_second, 1),
                         result=result.as_dict())
            self._compact_journal(job_id)

    def cancel(self, job_id: str) -> None:
        """Stop a job this process runs at once (the heartbeat reads a cancel asked through another
        replica within HEARTBEAT_SECONDS, and `_before_switch` reads it last)."""
        event = self.cancels.get(job_id)
        if event is not None:
            event.set()

    def _before_switch(self, job_id: str, index: str, embedder: Embedder) -> None:
        """Admin writes journaled since the build read its sources go into its index; then the lease
        is renewed, so the switch that follows happens while this job surely still holds it, and a cancel
        asked for until now stops it (a build shorter than a heartbeat would otherwise switch anyway)."""
        replayed = self.journal.replay(index, lambda: embedder, batch_size=self.settings.embedding_batch_size)
        if replayed:
            log.info("job %s: replayed %d journaled admin writes into %s", job_id, replayed, index)
        self.store.renew(job_id)
        current = self.store.get(job_id)
        if current and current.get("cancel_requested"):
            raise BuildCancelled()

    def _compact_journal(self, job_id: str) -> None:
        try:
            kept, removed = self.journal.compact()
        except Exception:  # the journal only grows until the next compaction
            log.warning("job %s: compacting the admin journal failed", job_id, exc_info=True)
            return
        log.info("job %s: admin journal compacted: %d entries kept, %d removed", job_id, kept, removed)

    def _finish(self, job_id: str, heartbeat: _Heartbeat, **fields: object) -> None:
        heartbeat.stop()
        try:
            recorded = _retried(lambda: self.store.transition(job_id, ACTIVE_STATES, finished=iso(now()),
                                                              heartbeat=iso(now()), **fields),
                                f"job {job_id}: recording its end")
            if not recorded:
                log.warning("job %s had already ended; its outcome %s is not recorded", job_id, fields["state"])
        finally:
            _retried(lambda: self.store.release(job_id), f"job {job_id}: releasing its lease")
        self.cancels.pop(job_id, None)


def _retried(call: Callable[[], _T], what: str, within: float | None = None) -> _T:
    """`elastic.retried`, for up to `within` seconds (default: the lease, after which another process may take
    the job over anyway)."""
    return elastic.retried(call, what, LEASE.total_seconds() if within is None else within)
