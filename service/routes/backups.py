"""/admin/backups: snapshot the live index and system indices, list snapshots, restore one.

The work is `indexer.snapshots`; these routes check input and map outcomes to status codes. A
restore goes into a new index and switches the alias atomically, so search stays up throughout.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from elasticsearch import ApiError as ESApiError
from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam

from indexer import snapshots
from service.auth import AdminDep, note, require_admin
from service.deps import EmbeddersDep, EsSyncDep, JobStoreDep, SettingsDep
from service.errors import Conflict, NotFound, ServiceUnavailable, job_running
from service.jobs import JobConflict, Lease
from service.schemas import NOT_FOUND_RESPONSE, Backup, BackupList, ErrorResponse, Restored

router = APIRouter(prefix="/admin/backups", tags=["admin"], dependencies=[Depends(require_admin)])

SnapshotName = Annotated[str, PathParam(min_length=1, max_length=255, pattern=r"^[a-z0-9][a-z0-9._\-]*$")]
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse,
          "description": "No live index, or the snapshot repository is unusable (path.repo not set on the node)."},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse,
          "description": "A reindex job runs, or the snapshot is not restorable (not SUCCESS)."},
}
T = TypeVar("T")


async def _call(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run snapshot work off the event loop; a repository Elasticsearch refuses is a 503 that says why."""
    try:
        return await asyncio.to_thread(work, *args, **kwargs)
    except snapshots.NoLiveIndex as exc:
        raise ServiceUnavailable(str(exc)) from None
    except snapshots.SnapshotMissing as exc:
        raise NotFound("snapshot", str(exc)) from None
    except ESApiError as exc:
        if "repository" not in str(exc.error):
            raise
        raise ServiceUnavailable(f"the snapshot repository is unusable ({exc.message}); the node needs "
                                 "`path.repo` to contain SNAPSHOT_LOCATION") from None


@router.post("", status_code=202, response_model=Backup, responses=UNAVAILABLE)
async def create_backup(who: AdminDep, settings: SettingsDep, es: EsSyncDep) -> dict[str, Any]:
    """Start a snapshot of the live index and the system indices; GET /admin/backups/{snapshot} shows its state."""
    return await _call(snapshots.create, es, settings, requested_by=who)


@router.get("", response_model=BackupList, responses=UNAVAILABLE)
async def list_backups(settings: SettingsDep, es: EsSyncDep) -> dict[str, Any]:
    return {"backups": await _call(snapshots.list_snapshots, es, settings)}


@router.get("/{snapshot}", response_model=Backup, responses={**NOT_FOUND_RESPONSE, **UNAVAILABLE})
async def get_backup(snapshot: SnapshotName, settings: SettingsDep, es: EsSyncDep) -> dict[str, Any]:
    return await _call(snapshots.get, es, settings, snapshot)


@router.post("/{snapshot}/restore", response_model=Restored,
             responses={**NOT_FOUND_RESPONSE, **UNAVAILABLE, **CONFLICT})
async def restore_backup(snapshot: SnapshotName, settings: SettingsDep, es: EsSyncDep,
                         store: JobStoreDep, embedders: EmbeddersDep, request: Request) -> dict[str, Any]:
    """Restore into a new index, then switch the alias to it atomically; the previous index is kept. It holds
    the reindex lease meanwhile: 409 while a job, a rollback or a CLI build holds it. Articles written or deleted
    through /admin/documents since the snapshot stay as written (the admin journal is replayed into it)."""

    def lease() -> Lease:
        return store.holding(f"restore-{uuid.uuid4().hex[:8]}", on_lost=lambda: None)

    try:
        restored: dict[str, Any] = await _call(snapshots.restore, es, settings, snapshot, lease, embedders.get)
    except JobConflict as conflict:
        raise job_running(conflict) from None
    except snapshots.NotRestorable as exc:
        raise Conflict("not_restorable", str(exc)) from None
    note(request, snapshot=snapshot, previous_index=restored["previous_index"], index=restored["index"])
    return restored
