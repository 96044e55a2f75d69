"""Prometheus metrics of one API process (`GET /metrics`, see `service.routes.metrics`).

* `govsearch_http_requests_total{method,route,mode,status}` and
  `govsearch_http_request_duration_seconds{route,mode}`: every HTTP request, by route template
  (`/articles/{article_id}`, never the raw path, so labels stay few; `unmatched` for no route) and, on
  /search, the retrieval mode (`invalid` for a value the route refuses). Counted by `RequestMetrics`,
  pure ASGI just inside the request id, so refusals by the admin gate and the limits count too.
* `govsearch_elasticsearch_errors_total{kind}`: requests that failed on Elasticsearch (unreachable,
  timeout, index_missing, api_error), counted where the app turns those exceptions into responses.
* Read from the runtime at scrape time: search admission (`admitted`, `shed`, `in_flight`, `waiting`),
  the query-embedding cache (`hits`, `misses`) and the reindex jobs per state (the newest 100 jobs).

Each app has its own registry, so several apps in one process (tests) do not collide.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Annotated, Any

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError as ESApiError
from elasticsearch import NotFoundError as ESNotFoundError
from fastapi import Depends, FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import ApiError, ServiceUnavailable
from service.observability import ResponseStatus

UNMATCHED = "unmatched"
SEARCH_MODES = ("hybrid", "bm25", "vector")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
ES_ERROR_KINDS: dict[type[Exception], str] = {
    ConnectionTimeout: "timeout", ESConnectionError: "unreachable", ESNotFoundError: "index_missing",
    ESApiError: "api_error",
}


class Metrics:
    """The registry of one app and the metrics its middleware and exception handlers update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("govsearch_http_requests", "HTTP requests answered.",
                                ["method", "route", "mode", "status"], registry=self.registry)
        self.latency = Histogram("govsearch_http_request_duration_seconds", "Time to the end of the response.",
                                 ["route", "mode"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.es_errors = Counter("govsearch_elasticsearch_errors", "Requests that failed on Elasticsearch.",
                                 ["kind"], registry=self.registry)
        self.runtime_state = RuntimeCollector()
        self.registry.register(self.runtime_state)


class RuntimeCollector(Collector):
    """Counters the runtime keeps itself, read at scrape time. `runtime` is set once the app has opened
    it; `job_states` is refreshed by the /metrics route before each render (an Elasticsearch read)."""

    def __init__(self) -> None:
        self.runtime: Any = None
        self.job_states: dict[str, int] | None = None

    def collect(self) -> Iterable[Metric]:
        return list(self._metrics())

    def _metrics(self) -> Iterator[Metric]:
        runtime = self.runtime
        if runtime is not None:
            stats = runtime.admission.stats()
            yield CounterMetricFamily("govsearch_search_admitted", "Searches given a slot.", stats["admitted"])
            yield CounterMetricFamily("govsearch_search_shed", "Searches answered 503 overloaded (no slot "
                                      "freed within ADMISSION_QUEUE_WAIT).", stats["shed"])
            yield GaugeMetricFamily("govsearch_search_in_flight", "Searches running now.", stats["in_flight"])
            yield GaugeMetricFamily("govsearch_search_waiting", "Searches waiting for a slot now.", stats["waiting"])
            embedder = runtime.query_embedder
            yield CounterMetricFamily("govsearch_query_embedding_cache_hits", "Query embeddings from the cache.",
                                      embedder.hits)
            yield CounterMetricFamily("govsearch_query_embedding_cache_misses", "Query embeddings computed.",
                                      embedder.misses)
        if self.job_states is not None:
            jobs = GaugeMetricFamily("govsearch_reindex_jobs", "Reindex jobs by state (the newest 100).",
                                     labels=["state"])
            for state in JOB_STATES:
                jobs.add_metric([state], self.job_states.get(state, 0))
            yield jobs


def route_template(app: ASGIApp | None, scope: Scope) -> str:
    """The template of the route that handled (or would handle) the request, never the raw path."""
    route = scope.get("route")
    if route is None and app is not None:  # refused before routing (admin gate, limits): match it here
        route = next((candidate for candidate in _leaf_routes(app) if candidate.matches(scope)[0] == Match.FULL), None)
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def _leaf_routes(container: Any) -> Iterator[Any]:
    """The app's routes, included routers flattened (FastAPI keeps each as a group with `original_router`)."""
    for route in getattr(container, "routes", ()):
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _leaf_routes(inner)
        else:
            yield route


def search_mode(route: str, scope: Scope) -> str:
    if route != "/search":
        return ""
    mode = QueryParams(scope.get("query_string", b"")).get("mode", "hybrid")
    return mode if mode in SEARCH_MODES else "invalid"


class RequestMetrics:
    """Pure ASGI: counts every HTTP request and times it to the end of its response."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        response = ResponseStatus(send)
        try:
            await self.app(scope, receive, response)
        finally:
            route = route_template(scope.get("app"), scope)
            mode = search_mode(route, scope)
            self.metrics.requests.labels(scope.get("method", ""), route, mode, str(response.status)).inc()
            self.metrics.latency.labels(route, mode).observe(time.perf_counter() - started)


Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def count_elasticsearch_errors(app: FastAPI, metrics: Metrics) -> None:
    """Wrap the app's handlers of Elasticsearch exceptions so each handled one is counted by kind, and of
    `ServiceUnavailable` so one standing for an Elasticsearch failure (`es_kind`: the search deadline, an
    `_msearch` answer saying the index is missing or not ready) is counted too."""
    for exc_class, kind in ES_ERROR_KINDS.items():
        handler = app.exception_handlers.get(exc_class)
        if handler is None:
            continue
        app.exception_handlers[exc_class] = _counting(handler, metrics, kind)
    api_errors = app.exception_handlers.get(ApiError)
    if api_errors is not None:
        app.exception_handlers[ApiError] = _counting(api_errors, metrics)


def _counting(handler: Handler, metrics: Metrics, kind: str | None = None) -> Handler:
    """`handler`, counting each exception it answers as an Elasticsearch error of `kind`; without one, a
    `ServiceUnavailable` under its `es_kind` (other exceptions are not Elasticsearch failures)."""
    async def counted(request: Request, exc: Exception) -> Response:
        counted_as = kind or (exc.es_kind if isinstance(exc, ServiceUnavailable) else None)
        if counted_as is not None:
            metrics.es_errors.labels(counted_as).inc()
        response = handler(request, exc)
        return await response if inspect.isawaitable(response) else response

    return counted


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]
