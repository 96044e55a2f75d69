"""Reindex jobs and their lock, kept in an Elasticsearch system index.

Several API replicas behind a load balancer must agree on which job runs, and
a restarted API must still know its jobs, so none of this lives in process
memory. The lock is one document created with `op_type=create` (atomic in
Elasticsearch); a running job refreshes its heartbeat, and a job whose
heartbeat stops is declared dead by whoever looks next.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from indexer.elastic import alias_target, delete_index, load_mapping
from service.schemas import Job

LOCK_ID = "lock"
HEARTBEAT_SECONDS = 2.0
DEAD_AFTER = timedelta(seconds=30)
ACTIVE_STATES = ("queued", "running")


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobConflict(Exception):
    def __init__(self, running_job_id: str) -> None:
        super().__init__(running_job_id)
        self.running_job_id = running_job_id


class JobStore:
    def __init__(self, es: Elasticsearch, index: str, alias: str, *, replicas: int | None = None) -> None:
        self.es = es
        self.index = index
        self.alias = alias
        self.replicas = replicas

    def ensure_index(self) -> None:
        """Create the jobs index if missing, with `replicas` copies of its one shard (None: as in
        mappings/jobs.json): the lock and the job history must survive the loss of a node too."""
        if not self.es.indices.exists(index=self.index):
            body = load_mapping("jobs")
            if self.replicas is not None:
                body["settings"]["index"]["number_of_replicas"] = self.replicas
            try:
                self.es.indices.create(index=self.index, settings=body["settings"], mappings=body["mappings"])
            except Exception:  # another replica created it first
                if not self.es.indices.exists(index=self.index):
                    raise

    def create(self, *, sources: list[str], model: str, incremental: bool, requested_by: str) -> dict[str, Any]:
        """A queued job holding the lock, or JobConflict naming the job that holds it."""
        self.ensure_index()
        job_id = uuid.uuid4().hex[:12]
        self._take_lock(job_id)
        job = Job(job_id=job_id, state="queued", phase="queued", sources=sources, model=model,
                  mode="incremental" if incremental else "full", requested_by=requested_by, owner=owner(),
                  created=iso(now()), heartbeat=iso(now())).model_dump()
        self.es.index(index=self.index, id=job_id, document={"kind": "job", **job}, refresh="wait_for")
        return job

    def _take_lock(self, job_id: str) -> None:
        for _ in range(2):
            try:
                self.es.create(index=self.index, id=LOCK_ID, document={"kind": "lock", "job_id": job_id,
                                                                       "owner": owner(), "taken": iso(now())},
                               refresh="wait_for")
                return
            except ConflictError:
                holder = self._lock_holder()
                if holder is None:
                    continue  # released between our attempt and the read
                job = self.get(holder["job_id"])  # marks a dead job failed as a side effect
                if job is not None and job["state"] in ACTIVE_STATES:
                    raise JobConflict(holder["job_id"]) from None
                self.release(holder["job_id"])
        holder = self._lock_holder()
        raise JobConflict(holder["job_id"] if holder else "unknown")

    def _lock_holder(self) -> dict[str, Any] | None:
        try:
            return self.es.get(index=self.index, id=LOCK_ID)["_source"]
        except NotFoundError:
            return None

    def release(self, job_id: str) -> None:
        holder = self._lock_holder()
        if holder and holder.get("job_id") == job_id:
            self.es.options(ignore_status=404).delete(index=self.index, id=LOCK_ID, refresh="wait_for")

    def running_job(self) -> dict[str, Any] | None:
        holder = self._lock_holder() if self.es.indices.exists(index=self.index) else None
        if holder is None:
            return None
        job = self.get(holder["job_id"])
        return job if job and job["state"] in ACTIVE_STATES else None

    def update(self, job_id: str, **fields: Any) -> None:
        self.es.update(index=self.index, id=job_id, doc=fields, retry_on_conflict=3)

    def get(self, job_id: str) -> dict[str, Any] | None:
        try:
            job = self.es.get(index=self.index, id=job_id)["_source"]
        except NotFoundError:
            return None
        if job.get("kind") != "job":
            return None
        return self._bury_if_dead(job)

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        if not self.es.indices.exists(index=self.index):
            return []
        self.es.indices.refresh(index=self.index)
        found = self.es.search(index=self.index, query={"term": {"kind": "job"}}, size=limit,
                               sort=[{"created": {"order": "desc", "unmapped_type": "date"}}])
        return [self._bury_if_dead(hit["_source"]) for hit in found["hits"]["hits"]]

    def last_succeeded(self) -> dict[str, Any] | None:
        return next((job for job in self.list(limit=50) if job["state"] == "succeeded"), None)

    def _bury_if_dead(self, job: dict[str, Any]) -> dict[str, Any]:
        """A running job whose heartbeat stopped belongs to a process that died: say so."""
        if job["state"] in ACTIVE_STATES and job.get("heartbeat"):
            beat = datetime.fromisoformat(job["heartbeat"])
            if now() - beat > DEAD_AFTER:
                error = (f"the process running this job ({job.get('owner')}) stopped sending heartbeats at "
                         f"{job['heartbeat']}; the job is abandoned")
                job = {**job, "state": "failed", "finished": iso(now()), "error": error}
                self.update(job["job_id"], state="failed", finished=job["finished"], error=error)
                self._drop_partial_index(job)
                self.release(job["job_id"])
        return job

    def _drop_partial_index(self, job: dict[str, Any]) -> None:
        partial = job.get("new_index")
        if job.get("mode") == "full" and partial and partial != alias_target(self.es, self.alias):
            delete_index(self.es, partial)
