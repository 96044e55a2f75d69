"""Reindex jobs and their lease, kept in an Elasticsearch system index.

Several API replicas behind a load balancer must agree on which job runs, and
a restarted API must still know its jobs, so none of this lives in process
memory.

Invariants:
- At most one job holds the reindex lease: the `lock` document {job_id, owner,
  lease_expires}. It is taken with `op_type=create`; renewed, released and taken
  over only by compare-and-set on its `_seq_no`/`_primary_term`, so of two
  replicas acting on the same version exactly one wins.
- A lock is taken over only when its lease expired (or its job already ended).
  Nothing else (a job document not written yet, a slow reply) frees it.
- A running job renews its lease from a heartbeat thread and once more right
  before its alias switch (`renew`); `Fenced` there means another holder took
  over and the job must not switch. Its two renewals may race each other: the
  one whose compare-and-set loses reads the lock again and is not fenced off.
- A job's state leaves `queued`/`running` once: every transition is a
  compare-and-set from an expected state (`transition`), so a late finisher
  cannot overwrite `failed` or `cancelled`.
- LEASE outlasts the longest call of the admin client (every retry timing out)
  twice over, a renewal and then the switch it guards, plus a heartbeat period.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from govsearch.settings import Settings
from indexer.elastic import LONGEST_CALL_SECONDS, SYSTEM_WRITE_REFRESH, alias_target, delete_index, ensure_system_index
from service.schemas import Job

log = logging.getLogger(__name__)

LOCK_ID = "lock"
HEARTBEAT_SECONDS = 2.0
LEASE = timedelta(seconds=2 * LONGEST_CALL_SECONDS + HEARTBEAT_SECONDS)
DEAD_AFTER = LEASE
"""A job whose heartbeat is older than this, and that holds no live lease, is dead."""
ACTIVE_STATES = ("queued", "running")


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def cli_lease(es: Elasticsearch, settings: Settings, operation: str,
              on_lost: Callable[[], None] | None = None) -> Lease:
    """The reindex lease held by a command-line operation on the index behind INDEX_ALIAS (`python -m
    indexer build`, `python -m indexer.snapshots restore`), so it never runs beside an admin job, a
    rollback or a restore from the API, nor they beside it: JobConflict names the holder. The holder id
    says what and where (`cli-build-host:pid`), which a 409 from the API then names."""
    store = JobStore(es, settings.jobs_index, settings.index_alias, replicas=settings.index_replicas)
    return store.holding(f"cli-{operation}-{owner()}", on_lost=on_lost)


class JobConflict(Exception):
    """The reindex lease is held by another: a reindex job, or an operation that is no job (a rollback, a
    restore, a command-line build: `rollback-…`, `restore-…`, `cli-build-host:pid`, with no job document)."""

    def __init__(self, running_job_id: str, owner: str | None = None, lease_expires: str | None = None) -> None:
        super().__init__(running_job_id)
        self.running_job_id = running_job_id
        self.owner = owner  # host:pid of the process holding it
        self.lease_expires = lease_expires  # when the lease lapses unless its holder renews it

    def message(self) -> str:
        """What the API's 409 `job_running` says: who holds the lease, where, and until when, so that a lease
        left by a process that died (a rollback has no job to look up or cancel) is not a mystery."""
        held = f"{self.running_job_id} holds the reindex lease (a reindex job, a rollback, a restore or a " \
               "command-line build)"
        if self.owner:
            held += f", taken by {self.owner}"
        if self.lease_expires:
            held += f", until {self.lease_expires} unless renewed (a holder that died lets it lapse then)"
        return held + ": wait for it, or cancel it if it is a job (POST /admin/jobs/{id}/cancel)"

    def for_operator(self, alias: str) -> str:
        """What a command-line operation refused by the lease tells its operator."""
        return f"on {alias!r}: {self.message()}"


class Fenced(Exception):
    """The job no longer holds the reindex lease: another replica took it over; it must change nothing live."""


@dataclass(frozen=True)
class _Lock:
    """The lock document as read, with the version a compare-and-set must name."""

    source: dict[str, Any]
    seq_no: int
    primary_term: int

    @property
    def job_id(self) -> str:
        return str(self.source.get("job_id"))

    @property
    def expired(self) -> bool:
        expires = self.source.get("lease_expires")
        return expires is None or datetime.fromisoformat(expires) <= now()

    def conflict(self) -> JobConflict:
        return JobConflict(self.job_id, self.source.get("owner"), self.source.get("lease_expires"))


class Lease:
    """The reindex lease held by an operation that is no job (a rollback; a build or restore from the CLI)
    while its `with` block runs; entering raises JobConflict if a job (or another operation) holds it.

    A short operation needs nothing more. A long one passes `on_lost`: a thread then renews the lease every
    HEARTBEAT_SECONDS for as long as the block runs, and calls `on_lost` once if another holder took it over
    (the operation must then change nothing live). `renew()` right before an alias switch raises `Fenced`
    in that case."""

    def __init__(self, store: JobStore, holder_id: str, on_lost: Callable[[], None] | None = None) -> None:
        self.store, self.holder_id, self.on_lost = store, holder_id, on_lost
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> Lease:
        self.store.ensure_index()
        self.store.take_lease(self.holder_id)
        if self.on_lost is not None:
            self._renewer = threading.Thread(target=self._renew_until_stopped, name=f"lease-{self.holder_id}",
                                             daemon=True)
            self._renewer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        self.store.release(self.holder_id)

    def renew(self) -> None:
        self.store.renew(self.holder_id)

    def _renew_until_stopped(self) -> None:
        assert self.on_lost is not None
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.renew()
            except Fenced:
                self.on_lost()
                return
            except Exception:  # a slow or unreachable node: the lease lasts LEASE, the next beat tries again
                log.warning("lease of %s not renewed this time", self.holder_id, exc_info=True)


class JobStore:
    def __init__(self, es: Elasticsearch, index: str, alias: str, *, replicas: int | None = None) -> None:
        self.es = es
        self.index = index
        self.alias = alias
        self.replicas = replicas

    def ensure_index(self) -> None:
        """Create the jobs index if missing, with `replicas` copies of its one shard (None: as in
        mappings/jobs.json): the lock and the job history must survive the loss of a node too."""
        ensure_system_index(self.es, self.index, "jobs", replicas=self.replicas)

    def create(self, *, sources: list[str], model: str, incremental: bool, requested_by: str,
               allow_shrink: bool = False) -> dict[str, Any]:
        """A queued job holding the lease, or JobConflict naming the job that holds it."""
        self.ensure_index()
        job_id = uuid.uuid4().hex[:12]
        self.take_lease(job_id)
        job = Job(job_id=job_id, state="queued", phase="queued", sources=sources, model=model,
                  mode="incremental" if incremental else "full", allow_shrink=allow_shrink,
                  requested_by=requested_by, owner=owner(),
                  created=iso(now()), heartbeat=iso(now())).model_dump()
        self.es.index(index=self.index, id=job_id, document={"kind": "job", **job}, refresh=SYSTEM_WRITE_REFRESH)
        return job

    # --- the lease ---------------------------------------------------------------------------

    def holding(self, holder_id: str, *, on_lost: Callable[[], None] | None = None) -> Lease:
        """The lease for an operation that is no job, held while its `with` block runs (`Lease`)."""
        return Lease(self, holder_id, on_lost)

    def _lease(self, job_id: str) -> dict[str, Any]:
        return {"kind": "lock", "job_id": job_id, "owner": owner(), "lease_expires": iso(now() + LEASE)}

    def take_lease(self, job_id: str) -> None:
        """Take the lease for `job_id`: create the lock, or take over an expired one by compare-and-set."""
        for _ in range(3):
            try:
                self.es.create(index=self.index, id=LOCK_ID, document=self._lease(job_id))
                return
            except ConflictError:
                pass
            lock = self._read_lock()
            if lock is None:
                continue  # released between our attempt and the read
            if not lock.expired and not self._ended(lock.job_id):
                raise lock.conflict()
            try:
                self._replace_lock(lock, self._lease(job_id))
            except ConflictError:
                continue  # another replica renewed or took it first: look again
            self._fail_abandoned(lock.job_id, f"its lease expired at {lock.source.get('lease_expires')} and "
                                              f"job {job_id} took it over")
            return
        lock = self._read_lock()
        raise lock.conflict() if lock else JobConflict("unknown")

    def renew(self, job_id: str) -> None:
        """Extend the job's lease by LEASE, or raise Fenced when the lock is no longer the job's.

        The job renews from two threads (its heartbeat, and its build right before the switch), so a
        compare-and-set may lose to the job's own other renewal: the lock is read again, and only a lock
        that names another holder (or none) fences the job off."""
        while True:
            lock = self._read_lock()
            if lock is None or lock.job_id != job_id:
                raise Fenced(f"job {job_id} lost the reindex lease"
                             + (f" to job {lock.job_id}" if lock else ""))
            try:
                self._replace_lock(lock, self._lease(job_id))
            except ConflictError:
                continue  # renewed meanwhile, by this job or not: the next read tells
            return

    def release(self, job_id: str) -> None:
        """Give the lease up, only if it is still the job's."""
        lock = self._read_lock()
        if lock is not None and lock.job_id == job_id:
            self._delete_lock(lock)

    def _replace_lock(self, lock: _Lock, document: dict[str, Any]) -> None:
        """Overwrite the lock if it is still the version read; ConflictError otherwise."""
        self.es.index(index=self.index, id=LOCK_ID, document=document, if_seq_no=lock.seq_no,
                      if_primary_term=lock.primary_term)

    def _delete_lock(self, lock: _Lock) -> bool:
        """Delete the lock if it is still the version read; False when it changed or went meanwhile."""
        try:
            self.es.delete(index=self.index, id=LOCK_ID, if_seq_no=lock.seq_no, if_primary_term=lock.primary_term)
        except (ConflictError, NotFoundError):
            return False
        return True

    def _read_lock(self) -> _Lock | None:
        try:
            found = self.es.get(index=self.index, id=LOCK_ID)
        except NotFoundError:
            return None
        return _Lock(found["_source"], found["_seq_no"], found["_primary_term"])

    def _ended(self, job_id: str) -> bool:
        job = self._read_job(job_id)
        return job is not None and job[0]["state"] not in ACTIVE_STATES

    # --- job documents -----------------------------------------------------------------------

    def running_job(self) -> dict[str, Any] | None:
        lock = self._read_lock() if self.es.indices.exists(index=self.index) else None
        if lock is None:
            return None
        job = self.get(lock.job_id)
        return job if job and job["state"] in ACTIVE_STATES else None

    def update(self, job_id: str, **fields: Any) -> None:
        """Progress and flags; never `state` (that goes through `transition`)."""
        assert "state" not in fields, "states change only through transition()"
        self.es.update(index=self.index, id=job_id, doc=fields, retry_on_conflict=3)

    def transition(self, job_id: str, from_states: tuple[str, ...], **fields: Any) -> bool:
        """Write `fields` (a new `state` among them) only while the job is in one of `from_states`,
        by compare-and-set; False when it is not (a terminal state is never overwritten)."""
        for _ in range(10):
            found = self._read_job(job_id)
            if found is None or found[0]["state"] not in from_states:
                return False
            try:
                self.es.update(index=self.index, id=job_id, doc=fields, if_seq_no=found[1],
                               if_primary_term=found[2])
                return True
            except ConflictError:
                continue  # a progress update came between: read again
        raise RuntimeError(f"job {job_id}: could not change its state after 10 conflicting writes")

    def _read_job(self, job_id: str) -> tuple[dict[str, Any], int, int] | None:
        try:
            found = self.es.get(index=self.index, id=job_id)
        except NotFoundError:
            return None
        if found["_source"].get("kind") != "job":
            return None
        return found["_source"], found["_seq_no"], found["_primary_term"]

    def get(self, job_id: str) -> dict[str, Any] | None:
        found = self._read_job(job_id)
        return self._bury_if_dead(found[0]) if found else None

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        if not self.es.indices.exists(index=self.index):
            return []
        self.es.indices.refresh(index=self.index)
        found = self.es.search(index=self.index, query={"term": {"kind": "job"}}, size=limit,
                               sort=[{"created": {"order": "desc", "unmapped_type": "date"}}])
        return [self._bury_if_dead(hit["_source"]) for hit in found["hits"]["hits"]]

    def last_succeeded(self, index: str | None = None) -> dict[str, Any] | None:
        """The newest of the last 50 jobs that succeeded; with `index`, the newest that wrote into that index (built
        it, or updated it incrementally)."""
        return next((job for job in self.list(limit=50)
                     if job["state"] == "succeeded" and index in (None, job.get("new_index"))), None)

    def _bury_if_dead(self, job: dict[str, Any]) -> dict[str, Any]:
        """An active job with no heartbeat for DEAD_AFTER and no live lease belongs to a process that died:
        fence it off (delete its expired lock by compare-and-set) and mark it failed."""
        if job["state"] not in ACTIVE_STATES or not job.get("heartbeat"):
            return job
        if now() - datetime.fromisoformat(job["heartbeat"]) <= DEAD_AFTER:
            return job
        lock = self._read_lock()
        if lock is not None and lock.job_id == job["job_id"]:
            if not lock.expired:
                return job  # it still renews its lease: alive, only its progress writes fail
            if not self._delete_lock(lock):
                return job  # renewed or taken over meanwhile: let the next look decide
        error = (f"the process running this job ({job.get('owner')}) stopped sending heartbeats at "
                 f"{job['heartbeat']}; the job is abandoned")
        self._fail_abandoned(job["job_id"], error)
        found = self._read_job(job["job_id"])
        return found[0] if found else job

    def _fail_abandoned(self, job_id: str, error: str) -> None:
        """Mark a job that lost its lease failed (if it was still active) and drop its partial index."""
        if self.transition(job_id, ACTIVE_STATES, state="failed", finished=iso(now()), error=error):
            found = self._read_job(job_id)
            if found is not None:
                self._drop_partial_index(found[0])

    def _drop_partial_index(self, job: dict[str, Any]) -> None:
        partial = job.get("new_index")
        if job.get("mode") == "full" and partial and partial != alias_target(self.es, self.alias):
            delete_index(self.es, partial)
