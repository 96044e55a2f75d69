"""Elasticsearch saying "not now" (503 while shards recover after a restart, 429 when its queues are
full) is a 503 `unavailable` for the client, never a 500: found by the soak test (bench/soak)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError as ESApiError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service import errors
from service.backend import ElasticsearchBackend
from service.errors import ServiceUnavailable


def _es_error(status: int) -> ESApiError:
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "127.0.0.1", 9200))
    return ESApiError("no_shard_available_action_exception", meta=meta, body={"error": {"type": "x"}})


@pytest.mark.parametrize(("status", "expected"), [(503, 503), (429, 503), (400, 500), (500, 500)])
def test_elasticsearch_api_errors_by_status(status: int, expected: int) -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise _es_error(status)

    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == expected
    assert response.json()["error"]["code"] == ("unavailable" if expected == 503 else "internal_error")


class _Msearch:
    """Answers the n-th msearch with the n-th item (the last one from then on)."""

    def __init__(self, *items: dict[str, Any]) -> None:
        self.items = list(items)
        self.calls = 0

    async def msearch(self, searches: list[dict[str, Any]], include_named_queries_score: bool) -> dict[str, Any]:
        assert include_named_queries_score  # the ranker's clause features read the named clauses' scores
        self.calls += 1
        return {"responses": [self.items[min(self.calls, len(self.items)) - 1]]}


def test_an_msearch_item_refused_as_503_is_service_unavailable() -> None:
    backend = ElasticsearchBackend(_Msearch({"status": 503, "error": {"type": "search_phase_execution_exception"}}))  # type: ignore[arg-type]
    with pytest.raises(ServiceUnavailable):
        asyncio.run(backend.msearch("alias", [{"query": {"match_all": {}}}]))


def test_an_msearch_item_refused_otherwise_is_still_an_error() -> None:
    backend = ElasticsearchBackend(_Msearch({"status": 400, "error": {"type": "parsing_exception"}}))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        asyncio.run(backend.msearch("alias", [{"query": {"match_all": {}}}]))


def _answer(failed: int, hits: int) -> dict[str, Any]:
    return {"status": 200, "timed_out": False, "_shards": {"total": 2, "successful": 2 - failed, "failed": failed},
            "hits": {"total": {"value": 3}, "hits": [{"_id": str(i)} for i in range(hits)]}}


def test_an_answer_a_shard_failed_is_searched_again_once() -> None:
    es = _Msearch(_answer(failed=1, hits=1), _answer(failed=0, hits=3))
    (response,) = asyncio.run(ElasticsearchBackend(es).msearch("alias", [{"query": {"match_all": {}}}]))  # type: ignore[arg-type]
    assert es.calls == 2 and len(response["hits"]["hits"]) == 3


def test_a_second_partial_answer_is_returned_as_it_is() -> None:
    es = _Msearch(_answer(failed=1, hits=1))
    (response,) = asyncio.run(ElasticsearchBackend(es).msearch("alias", [{"query": {"match_all": {}}}]))  # type: ignore[arg-type]
    assert es.calls == 2 and response["_shards"]["failed"] == 1


def test_a_whole_answer_is_not_searched_again() -> None:
    es = _Msearch(_answer(failed=0, hits=3))
    asyncio.run(ElasticsearchBackend(es).msearch("alias", [{"query": {"match_all": {}}}]))  # type: ignore[arg-type]
    assert es.calls == 1
