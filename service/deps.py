"""Typed dependencies for the routes: `settings: SettingsDep` instead of `Depends(...)` boilerplate.

Each alias reads one part of the `Runtime` the lifespan in `service.main` opened.

Every dependency here is an `async def` that does no I/O: FastAPI calls a plain `def` dependency
through its worker-thread pool, a thread hand-off per dependency per request (five on /search),
which cost the API about a tenth of its CPU under load (bench/results/perf-notes.md, issue 11).
"""

from __future__ import annotations

from typing import Annotated, Any

from elasticsearch import AsyncElasticsearch, Elasticsearch
from fastapi import Depends, Request

from govsearch.settings import Settings
from indexer.journal import Journal
from service.analytics import QueryLog
from service.bestbets import BestBets
from service.embedding import EmbedderPool, QueryEmbedder
from service.hidden import HiddenQueries
from service.jobs import JobStore
from service.limits import ConfiguredNetworks
from service.popular import PopularQueries
from service.reindex import ReindexRunner
from service.runtime import Runtime
from service.search import Searcher
from service.synonyms import Synonyms


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _part(name: str) -> Any:
    """A dependency giving the runtime's attribute `name`."""

    async def dependency(runtime: RuntimeDep) -> Any:
        return getattr(runtime, name)

    dependency.__name__ = f"get_{name}"
    return Depends(dependency)


SettingsDep = Annotated[Settings, _part("settings")]
EsDep = Annotated[AsyncElasticsearch, _part("es")]
EsSyncDep = Annotated[Elasticsearch, _part("es_sync")]
"""The synchronous client admin work uses from worker threads."""
SearcherDep = Annotated[Searcher, _part("searcher")]
JobStoreDep = Annotated[JobStore, _part("jobs")]
RunnerDep = Annotated[ReindexRunner, _part("runner")]
EmbeddersDep = Annotated[EmbedderPool, _part("embedders")]
QueryEmbedderDep = Annotated[QueryEmbedder, _part("query_embedder")]


async def get_journal(runtime: RuntimeDep) -> Journal:
    """The admin journal of the runtime's alias (a cheap handle; the index lives in Elasticsearch)."""
    return Journal(runtime.es_sync, runtime.settings.journal_index, runtime.settings.index_alias)


JournalDep = Annotated[Journal, Depends(get_journal)]

QueryLogDep = Annotated[QueryLog, _part("query_log")]
BestBetsDep = Annotated[BestBets, _part("best_bets")]
SynonymsDep = Annotated[Synonyms, _part("synonyms")]
PopularDep = Annotated[PopularQueries, _part("popular")]
HiddenQueriesDep = Annotated[HiddenQueries, _part("hidden")]


async def get_networks(request: Request) -> ConfiguredNetworks:
    """The address settings `create_app` parsed (not part of the runtime: they exist before it opens)."""
    networks: ConfiguredNetworks = request.app.state.networks
    return networks


NetworksDep = Annotated[ConfiguredNetworks, Depends(get_networks)]
