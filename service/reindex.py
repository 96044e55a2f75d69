"""Running a reindex job in the background of an API process.

The build itself is the indexer's (`indexer.pipeline.build`); this module only
ties it to a job document: progress and heartbeat out, cancellation in (a
cancel request may arrive at any replica, so it travels through the job doc).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from elasticsearch import Elasticsearch

from govsearch.settings import Settings
from indexer.pipeline import BuildCancelled, BuildProgress, build
from service.embedding import EmbedderPool
from service.jobs import HEARTBEAT_SECONDS, JobStore, iso, now

log = logging.getLogger(__name__)


class ReindexRunner:
    def __init__(self, es: Elasticsearch, store: JobStore, pool: EmbedderPool, settings: Settings) -> None:
        self.es = es
        self.store = store
        self.pool = pool
        self.settings = settings
        self.threads: dict[str, threading.Thread] = {}

    def start(self, job: dict, sources: list[Path]) -> None:
        thread = threading.Thread(target=self._run, args=(job, sources), name=f"reindex-{job['job_id']}",
                                  daemon=True)
        self.threads[job["job_id"]] = thread
        thread.start()

    def _run(self, job: dict, sources: list[Path]) -> None:
        job_id = job["job_id"]
        cancel = threading.Event()
        last_beat = 0.0

        def beat(progress: BuildProgress | None = None, force: bool = False) -> None:
            nonlocal last_beat
            if not force and time.monotonic() - last_beat < HEARTBEAT_SECONDS:
                return
            last_beat = time.monotonic()
            fields: dict = {"heartbeat": iso(now())}
            if progress is not None:
                fields.update(phase=progress.phase, done=progress.passages_loaded, total=progress.passages_total,
                              articles=progress.articles, rate=round(progress.rate, 1))
            self.store.update(job_id, **fields)
            current = self.store.get(job_id)
            if current and current.get("cancel_requested"):
                cancel.set()

        # Heartbeats also while the model loads or a stage is slow, not only on progress.
        stop_ticker = threading.Event()

        def ticker() -> None:
            while not stop_ticker.wait(HEARTBEAT_SECONDS):
                try:
                    beat(force=True)
                except Exception:  # a missed heartbeat is retried on the next tick
                    log.warning("job %s: heartbeat failed", job_id, exc_info=True)

        threading.Thread(target=ticker, daemon=True).start()
        try:
            self.store.update(job_id, state="running", phase="parsing", started=iso(now()))
            embedder = self.pool.get(job["model"])
            result = build(
                self.es, embedder, sources, alias=self.settings.index_alias,
                keep_previous=self.settings.keep_previous_indices, batch_size=self.settings.embedding_batch_size,
                incremental=job["mode"] == "incremental", cancel=cancel, on_progress=beat,
                on_index_created=lambda index: self.store.update(job_id, new_index=index),
                layout=self.settings.index_layout,
            )
        except BuildCancelled:
            self._finish(job_id, stop_ticker, state="cancelled", phase="cancelled", error=None)
        except Exception as exc:  # every failure ends as a failed job with its reason
            log.exception("job %s failed", job_id)
            self._finish(job_id, stop_ticker, state="failed", error=f"{type(exc).__name__}: {exc}")
        else:
            self._finish(job_id, stop_ticker, state="succeeded", phase="done", new_index=result.index,
                         previous_index=result.previous_index, done=result.passages, total=result.passages,
                         articles=result.articles, rate=round(result.passages_per_second, 1),
                         result=result.as_dict())

    def _finish(self, job_id: str, stop_ticker: threading.Event, **fields: object) -> None:
        stop_ticker.set()
        try:
            self.store.update(job_id, finished=iso(now()), heartbeat=iso(now()), **fields)
        finally:
            self.store.release(job_id)
