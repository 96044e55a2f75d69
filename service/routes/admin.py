"""/admin: re-index without downtime, watch and cancel jobs, roll back, write single articles.

Every route needs `Authorization: Bearer <ADMIN_TOKEN>`. The work itself lives
in `service.jobs`, `service.reindex` and `indexer.updates`; routes only check
input and translate outcomes into status codes.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from elasticsearch import Elasticsearch
from fastapi import APIRouter, Depends, Path as PathParam, Request, Response
from pydantic import BaseModel, Field, field_validator

from indexer import elastic
from indexer.documents import Article
from indexer.updates import delete_article, stored_passage_count, write_article
from service.auth import require_admin
from service.deps import get_es_sync, get_runner, get_settings, get_store
from service.errors import ApiError, invalid_parameter
from service.jobs import JobConflict, JobStore
from service.reindex import ReindexRunner
from service.settings import PROJECT_ROOT, Settings

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

Admin = Annotated[str, Depends(require_admin)]


class ReindexRequest(BaseModel):
    sources: list[str] | None = Field(None, min_length=1, max_length=50,
                                      description="Files or directories under the configured DATA_ROOTS; relative "
                                      "paths are relative to the project. Default: SAMPLE_CORPUS.")
    model: str | None = Field(None, description="Embedding model for the new index (default: EMBEDDING_MODEL).")
    mode: Literal["full", "incremental"] = Field(
        "full", description="full: new index, then alias switch. incremental: changed articles only, in place.")


class ArticleIn(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1, max_length=500_000)
    date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    publisher: str | None = None
    town: str | None = None
    department: str | None = None
    section: str | None = None
    newsletter: str | None = None
    doc_number: str | None = None
    source: str | None = None
    url: str | None = None

    @field_validator("date")
    @classmethod
    def _real_date(cls, value: str | None) -> str | None:
        if value is not None:
            date.fromisoformat(value)
        return value


def resolve_sources(raw: list[str], settings: Settings) -> list[Path]:
    """Paths an admin may index: existing, and inside one of DATA_ROOTS after resolving `..` and links."""
    roots = [root.resolve() for root in settings.data_roots]
    resolved: list[Path] = []
    for item in raw:
        path = Path(item)
        path = (path if path.is_absolute() else PROJECT_ROOT / path).resolve()
        if not any(path == root or path.is_relative_to(root) for root in roots):
            raise invalid_parameter("sources", f"{item!r} is outside the allowed data roots "
                                    f"({', '.join(str(r) for r in roots)})")
        if not path.exists():
            raise invalid_parameter("sources", f"{item!r} does not exist")
        resolved.append(path)
    return resolved


@router.post("/reindex", status_code=202)
async def reindex(
    request: ReindexRequest, who: Admin,
    settings: Annotated[Settings, Depends(get_settings)],
    store: Annotated[JobStore, Depends(get_store)],
    runner: Annotated[ReindexRunner, Depends(get_runner)],
) -> dict:
    """Start a background build; the alias switches only when it succeeds. 409 while another job runs."""
    sources = resolve_sources(request.sources or [str(settings.sample_corpus)], settings)
    try:
        job = await asyncio.to_thread(store.create, sources=[str(s) for s in sources],
                                      model=request.model or settings.embedding_model,
                                      incremental=request.mode == "incremental", requested_by=who)
    except JobConflict as conflict:
        raise ApiError(409, "job_running", f"reindex job {conflict.running_job_id} is still running",
                       job_id=conflict.running_job_id) from None
    runner.start(job, sources)
    return {"job_id": job["job_id"], "state": job["state"], "status_url": f"/admin/jobs/{job['job_id']}"}


@router.get("/jobs")
async def list_jobs(store: Annotated[JobStore, Depends(get_store)]) -> dict:
    return {"jobs": await asyncio.to_thread(store.list)}


@router.get("/jobs/{job_id}")
async def get_job(job_id: str, store: Annotated[JobStore, Depends(get_store)]) -> dict:
    job = await asyncio.to_thread(store.get, job_id)
    if job is None:
        raise ApiError(404, "not_found", f"no job with id {job_id!r}")
    return job


@router.post("/jobs/{job_id}/cancel", status_code=202)
async def cancel_job(job_id: str, store: Annotated[JobStore, Depends(get_store)]) -> dict:
    """Ask the job to stop; it removes its partial index and ends as `cancelled`."""
    job = await asyncio.to_thread(store.get, job_id)
    if job is None:
        raise ApiError(404, "not_found", f"no job with id {job_id!r}")
    if job["state"] not in ("queued", "running"):
        raise ApiError(409, "job_finished", f"job {job_id} already ended as {job['state']}")
    await asyncio.to_thread(store.update, job_id, cancel_requested=True)
    return {"job_id": job_id, "state": job["state"], "cancel_requested": True}


@router.post("/rollback")
async def rollback(
    settings: Annotated[Settings, Depends(get_settings)],
    es: Annotated[Elasticsearch, Depends(get_es_sync)],
    store: Annotated[JobStore, Depends(get_store)],
) -> dict:
    """Put the alias back on the index that was live before the current one."""
    running = await asyncio.to_thread(store.running_job)
    if running:
        raise ApiError(409, "job_running", f"reindex job {running['job_id']} is running; cancel it first",
                       job_id=running["job_id"])
    alias = settings.index_alias
    live = await asyncio.to_thread(elastic.alias_target, es, alias)
    indices = await asyncio.to_thread(elastic.versioned_indices, es, alias)
    older = indices[: indices.index(live)] if live in indices else indices
    if not older:
        raise ApiError(409, "nothing_to_roll_back", f"no index older than {live} is kept for alias {alias}")
    await asyncio.to_thread(elastic.switch_alias, es, alias, older[-1])
    return {"alias": alias, "index": older[-1], "previous_index": live}


@router.get("/stats")
async def stats(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    es: Annotated[Elasticsearch, Depends(get_es_sync)],
    store: Annotated[JobStore, Depends(get_store)],
) -> dict:
    alias = settings.index_alias
    live = await asyncio.to_thread(elastic.alias_target, es, alias)
    if live is None:
        raise ApiError(503, "unavailable", f"alias {alias} does not exist yet")
    data = await asyncio.to_thread(elastic.index_stats, es, alias, live)
    data["last_successful_job"] = await asyncio.to_thread(store.last_succeeded)
    data["running_job"] = await asyncio.to_thread(store.running_job)
    embedder = request.app.state.query_embedder
    data["query_cache"] = {"hits": embedder.hits, "misses": embedder.misses}
    return data


def _target_indices(es: Elasticsearch, store: JobStore, alias: str) -> list[str]:
    """The live index, plus the one a running full reindex is building, so its switch loses no write."""
    live = elastic.alias_target(es, alias)
    if live is None:
        raise ApiError(503, "unavailable", f"alias {alias} does not exist yet")
    targets = [live]
    running = store.running_job()
    if running and running.get("new_index") and running["new_index"] != live:
        targets.append(running["new_index"])
    return targets


@router.put("/documents/{article_id}")
async def put_document(
    article_id: Annotated[str, PathParam(min_length=1, max_length=200, pattern=r"^[\w.\-:]+$")],
    document: ArticleIn, response: Response,
    settings: Annotated[Settings, Depends(get_settings)],
    es: Annotated[Elasticsearch, Depends(get_es_sync)],
    store: Annotated[JobStore, Depends(get_store)],
    request: Request,
) -> dict:
    """Create or replace one article; it is re-chunked and re-embedded alone, searchable on return."""
    alias = settings.index_alias
    targets = await asyncio.to_thread(_target_indices, es, store, alias)
    model = elastic.index_meta(es, targets[0]).get("embedding_model", settings.embedding_model)
    embedder = await asyncio.to_thread(request.app.state.embedders.get, model)
    existed = await asyncio.to_thread(_exists, es, targets[0], article_id)
    article = Article(article_id=article_id, title=document.title.strip(), body=document.body.strip(),
                      publisher=document.publisher, town=document.town, date=document.date,
                      department=document.department, section=document.section, source=document.source or "admin",
                      url=document.url, newsletter=document.newsletter, doc_number=document.doc_number)
    passages = await asyncio.to_thread(write_article, es, targets, article, embedder,
                                       batch_size=settings.embedding_batch_size)
    response.status_code = 200 if existed else 201
    return {"id": article_id, "result": "updated" if existed else "created", "passages": passages,
            "indices": targets, "searchable": "now: the write waited for an index refresh"}


@router.delete("/documents/{article_id}")
async def delete_document(
    article_id: str,
    settings: Annotated[Settings, Depends(get_settings)],
    es: Annotated[Elasticsearch, Depends(get_es_sync)],
    store: Annotated[JobStore, Depends(get_store)],
) -> dict:
    targets = await asyncio.to_thread(_target_indices, es, store, settings.index_alias)
    if not await asyncio.to_thread(delete_article, es, targets, article_id):
        raise ApiError(404, "not_found", f"no article with id {article_id!r}")
    return {"id": article_id, "result": "deleted", "indices": targets,
            "searchable": "now: the delete waited for an index refresh"}


def _exists(es: Elasticsearch, index: str, article_id: str) -> bool:
    return stored_passage_count(es, index, article_id) is not None
