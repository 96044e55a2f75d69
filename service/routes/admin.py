"""/admin: re-index without downtime, watch and cancel jobs, roll back, write single articles.

Every route needs `Authorization: Bearer <ADMIN_TOKEN>`. The work itself lives
in `service.jobs`, `service.reindex` and `indexer.updates`; routes only check
input and translate outcomes into status codes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from elasticsearch import Elasticsearch
from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam

from govsearch.paths import PROJECT_ROOT
from govsearch.schema import Article
from govsearch.settings import Settings
from indexer import elastic
from indexer.journal import Journal
from indexer.updates import ArticleTooLong, checked_passages, delete_article, stored_passage_count, write_article
from service.auth import AdminDep, note, require_admin
from service.deps import (
    BestBetsDep,
    EmbeddersDep,
    EsSyncDep,
    JobStoreDep,
    JournalDep,
    QueryEmbedderDep,
    RunnerDep,
    RuntimeDep,
    SettingsDep,
)
from service.embedding import EmbedderPool
from service.errors import Conflict, NotFound, ServiceUnavailable, invalid_parameter, job_running
from service.jobs import JobConflict, JobStore
from service.schemas import (
    BAD_BODY_RESPONSE,
    CONFLICT_RESPONSE,
    NOT_FOUND_RESPONSE,
    ArticleIn,
    CancelRequested,
    DocumentWritten,
    IndexStats,
    Job,
    JobList,
    JournalCompacted,
    ReindexRequest,
    ReindexStarted,
    RolledBack,
)

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

ADMIN_READ_SECONDS = 10.0
"""How long a read of the admin routes (jobs, stats) waits for Elasticsearch before answering 503: the admin
client itself waits minutes for a node that hangs (it also serves bulk loads and snapshots)."""
_T = TypeVar("_T")


async def _read(call: Callable[..., _T], *args: Any) -> _T:
    """`call(*args)` on a worker thread, within ADMIN_READ_SECONDS (503 `unavailable` past it)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(call, *args), timeout=ADMIN_READ_SECONDS)
    except TimeoutError:
        raise ServiceUnavailable(f"Elasticsearch did not answer within {ADMIN_READ_SECONDS:.0f} s") from None

ArticleIdParam = Annotated[str, PathParam(min_length=1, max_length=200, pattern=r"^[\w.\-:]+$")]


def resolve_sources(raw: list[str], settings: Settings) -> list[Path]:
    """Paths an admin may index: existing, and inside one of DATA_ROOTS after resolving `..` and links."""
    roots = [(root if root.is_absolute() else PROJECT_ROOT / root).resolve() for root in settings.data_roots]
    resolved: list[Path] = []
    for item in raw:
        try:  # a NUL byte or an overlong name is no path (ValueError, OSError), not a server error
            path = Path(item)
            path = (path if path.is_absolute() else PROJECT_ROOT / path).resolve()
            if not any(path == root or path.is_relative_to(root) for root in roots):
                raise invalid_parameter("sources", f"{item!r} is outside the allowed data roots "
                                        f"({', '.join(str(r) for r in roots)})")
            exists = path.exists()
        except (ValueError, OSError) as exc:
            raise invalid_parameter("sources", f"{item!r} is not a usable path ({exc})") from None
        if not exists:
            raise invalid_parameter("sources", f"{item!r} does not exist")
        resolved.append(path)
    return resolved


@router.post("/reindex", status_code=202, response_model=ReindexStarted,
             responses={**BAD_BODY_RESPONSE, **CONFLICT_RESPONSE})
async def reindex(who: AdminDep, settings: SettingsDep, store: JobStoreDep, runner: RunnerDep, http: Request,
                  request: ReindexRequest | None = None) -> dict[str, Any]:
    """Start a background build; the alias switches only when it succeeds. 409 while another job runs.
    No body: every default (the sample corpus, EMBEDDING_MODEL, a full build)."""
    request = request or ReindexRequest()
    sources = resolve_sources(request.sources or [str(settings.sample_corpus)], settings)
    model = request.model or settings.embedding_model
    if model not in settings.reindex_models:
        raise invalid_parameter("model", f"{model!r} is not an allowed model "
                                f"({', '.join(settings.reindex_models)}; see ALLOWED_MODELS)")
    try:
        job = await asyncio.to_thread(store.create, sources=[str(s) for s in sources], model=model,
                                      incremental=request.mode == "incremental", requested_by=who,
                                      allow_shrink=request.allow_shrink)
    except JobConflict as conflict:
        raise job_running(conflict) from None
    runner.start(job, sources)
    note(http, job=job["job_id"], mode=request.mode, model=model, sources=[str(s) for s in sources])
    return {"job_id": job["job_id"], "state": job["state"], "status_url": f"/admin/jobs/{job['job_id']}"}


@router.get("/jobs", response_model=JobList)
async def list_jobs(store: JobStoreDep) -> dict[str, Any]:
    return {"jobs": await _read(store.list)}


async def _job(store: JobStore, job_id: str) -> dict[str, Any]:
    job = await _read(store.get, job_id)
    if job is None:
        raise NotFound("job", job_id)
    return job


@router.get("/jobs/{job_id}", response_model=Job, responses=NOT_FOUND_RESPONSE)
async def get_job(job_id: str, store: JobStoreDep) -> dict[str, Any]:
    return await _job(store, job_id)


@router.post("/jobs/{job_id}/cancel", status_code=202, response_model=CancelRequested,
             responses={**NOT_FOUND_RESPONSE, **CONFLICT_RESPONSE})
async def cancel_job(job_id: str, store: JobStoreDep, runner: RunnerDep) -> dict[str, Any]:
    """Ask the job to stop; it removes its partial index and ends as `cancelled` (a cancel that arrives once
    the alias switch is under way comes too late: the job ends `succeeded`)."""
    job = await _job(store, job_id)
    if job["state"] not in ("queued", "running"):
        raise Conflict("job_finished", f"job {job_id} already ended as {job['state']}")
    await asyncio.to_thread(store.update, job_id, cancel_requested=True)
    runner.cancel(job_id)
    return {"job_id": job_id, "state": job["state"], "cancel_requested": True}


@router.post("/rollback", response_model=RolledBack, responses=CONFLICT_RESPONSE)
async def rollback(settings: SettingsDep, es: EsSyncDep, store: JobStoreDep, journal: JournalDep,
                   embedders: EmbeddersDep, request: Request) -> dict[str, Any]:
    """Put the alias back on the index that was live before the current one (by the recorded switch
    history, which restores keep right), with the admin journal replayed into it first. It holds the
    reindex lease meanwhile, so no job switches the alias under it (409 while a job holds it)."""
    try:
        rolled = await asyncio.to_thread(_rollback, es, store, journal, embedders, settings)
    except JobConflict as conflict:
        raise job_running(conflict) from None
    note(request, alias=rolled["alias"], previous_index=rolled["previous_index"], index=rolled["index"])
    return rolled


def _rollback(es: Elasticsearch, store: JobStore, journal: Journal, embedders: EmbedderPool,
              settings: Settings) -> dict[str, Any]:
    alias = settings.index_alias
    with store.holding(f"rollback-{uuid.uuid4().hex[:8]}"):
        live = elastic.alias_target(es, alias)
        target = elastic.rollback_target(es, alias)
        if target is None:
            raise Conflict("nothing_to_roll_back", f"no index that was live before {live} is kept for alias {alias}")
        meta = elastic.index_meta(es, target)
        journal.switch_to(target, lambda: elastic.switch_alias(es, alias, target, rollback=True),
                          lambda: embedders.get(str(meta.get("embedding_model"))),
                          batch_size=settings.embedding_batch_size)
    return {"alias": alias, "index": target, "previous_index": live}


@router.post("/journal/compact", response_model=JournalCompacted)
async def compact_journal(settings: SettingsDep, journal: JournalDep) -> dict[str, Any]:
    """Drop the journal entries a newer entry of the same article supersedes; the newest entry of each
    article stays (see indexer.journal), so rebuilds and rollbacks give the same articles as before.
    Successful reindex jobs compact the journal too."""
    kept, removed = await asyncio.to_thread(journal.compact)
    return {"alias": settings.index_alias, "kept": kept, "removed": removed}


@router.get("/stats", response_model=IndexStats)
async def stats(settings: SettingsDep, es: EsSyncDep, store: JobStoreDep,
                query_embedder: QueryEmbedderDep, runtime: RuntimeDep) -> dict[str, Any]:
    alias = settings.index_alias
    live = await _read(elastic.alias_target, es, alias)
    if live is None:
        raise ServiceUnavailable(f"alias {alias} does not exist yet")
    data = await _read(elastic.index_stats, es, alias, live)
    data["last_successful_job"] = await _read(store.last_succeeded)
    data["live_index_job"] = await _read(store.last_succeeded, live)
    data["running_job"] = await _read(store.running_job)
    data["query_cache"] = {"hits": query_embedder.hits, "misses": query_embedder.misses}
    data["admission"] = runtime.admission.stats()
    return data


def _target_indices(es: Elasticsearch, store: JobStore, alias: str) -> list[str]:
    """The live index, plus the index a queued or running full reindex has created, so its switch loses no
    write. (A job that has not created its index yet replays the journal into it before switching, and every
    write is journaled before its targets are resolved.)"""
    live = elastic.alias_target(es, alias)
    if live is None:
        raise ServiceUnavailable(f"alias {alias} does not exist yet")
    targets = [live]
    running = store.running_job()
    if running and running.get("new_index") and running["new_index"] != live:
        targets.append(running["new_index"])
    return targets


@router.put("/documents/{article_id}", response_model=DocumentWritten,
            responses={201: {"model": DocumentWritten, "description": "Created."}, **BAD_BODY_RESPONSE})
async def put_document(article_id: ArticleIdParam, document: ArticleIn, response: Response, settings: SettingsDep,
                       es: EsSyncDep, store: JobStoreDep, embedders: EmbeddersDep,
                       journal: JournalDep, best_bets: BestBetsDep) -> dict[str, Any]:
    """Create or replace one article; it is re-chunked and re-embedded alone, searchable on return.
    Journaled first, so the next full build and a rollback keep it."""
    fields = document.model_dump()
    article = Article(**{**fields, "title": document.title.strip(), "body": document.body.strip(),
                         "source": document.source or "admin"}, article_id=article_id)
    try:
        await asyncio.to_thread(checked_passages, article)
    except ArticleTooLong as exc:
        raise invalid_parameter("body", str(exc)) from None
    await asyncio.to_thread(journal.record_upsert, article)
    targets = await asyncio.to_thread(_target_indices, es, store, settings.index_alias)
    meta = await asyncio.to_thread(elastic.index_meta, es, targets[0])
    embedder = await asyncio.to_thread(embedders.get, meta.get("embedding_model", settings.embedding_model))
    existed = await asyncio.to_thread(_exists, es, targets[0], article_id)
    passages = await asyncio.to_thread(write_article, es, targets, article, embedder,
                                       batch_size=settings.embedding_batch_size)
    response.status_code = 200 if existed else 201
    best_bets.forget()  # a best bet naming this article is shown again
    return {"id": article_id, "result": "updated" if existed else "created", "passages": passages,
            "indices": targets, "searchable": "now: the write waited for an index refresh"}


@router.delete("/documents/{article_id}", response_model=DocumentWritten, responses=NOT_FOUND_RESPONSE)
async def delete_document(article_id: str, settings: SettingsDep, es: EsSyncDep,
                          store: JobStoreDep, journal: JournalDep, best_bets: BestBetsDep) -> dict[str, Any]:
    """Delete one article (journaled first, so the next full build and a rollback keep it deleted). A best bet
    naming it is no longer shown (`service.bestbets`)."""
    targets = await asyncio.to_thread(_target_indices, es, store, settings.index_alias)
    if not any([await asyncio.to_thread(_exists, es, index, article_id) for index in targets]):
        raise NotFound("article", article_id)
    await asyncio.to_thread(journal.record_delete, article_id)
    if not await asyncio.to_thread(delete_article, es, targets, article_id):
        raise NotFound("article", article_id)
    best_bets.forget()
    return {"id": article_id, "result": "deleted", "indices": targets,
            "searchable": "now: the delete waited for an index refresh"}


def _exists(es: Elasticsearch, index: str, article_id: str) -> bool:
    return stored_passage_count(es, index, article_id) is not None
