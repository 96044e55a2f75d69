"""Request ids in responses and in every log line of a request; /metrics in Prometheus format, not public."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from govsearch.apiprocess import free_port
from govsearch.settings import Settings
from indexer.pipeline import BuildResult
from service.main import create_app
from service.observability import JsonFormatter

METRICS_TOKEN = "metrics-token-for-tests-0123"
ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture(scope="module")
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN), "admin_auth_max_failures": 10_000})


@pytest.fixture(scope="module")
def api(app_settings: Settings, sample_index: BuildResult) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as client:
        yield client


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# ---- request ids ------------------------------------------------------------------------------

def test_a_sane_request_id_is_kept_and_returned(api: TestClient) -> None:
    response = api.get("/healthz", headers={"X-Request-ID": "portal-42.a_b"})
    assert response.headers["x-request-id"] == "portal-42.a_b"


@pytest.mark.parametrize("offered", ["", "has space", "x" * 65, "quote\"d", "新闻".encode()])
def test_an_insane_request_id_is_replaced_by_a_fresh_one(api: TestClient, offered: str | bytes) -> None:
    first = api.get("/healthz", headers={"X-Request-ID": offered}).headers["x-request-id"]
    second = api.get("/healthz", headers={"X-Request-ID": offered}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_every_log_line_of_a_request_carries_its_id_the_audit_line_included(
        api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    refused = api.get("/admin/stats", headers={"X-Request-ID": "refused-1", "Authorization": "Bearer wrong-0123456789abcdef"})
    assert refused.status_code == 403 and refused.headers["x-request-id"] == "refused-1"
    api.get("/admin/stats", headers={**ADMIN, "X-Request-ID": "audited-1"})
    audit = [r for r in caplog.records if r.name == "service.audit"]
    assert [r.request_id for r in audit] == ["refused-1", "audited-1"]  # type: ignore[attr-defined]
    line = json.loads(JsonFormatter().format(audit[-1]))
    assert line["request_id"] == "audited-1" and line["logger"] == "service.audit" and "outcome=200" in line["message"]
    # Outside any request the id is "-".
    logging.getLogger("service").info("between requests")
    assert caplog.records[-1].request_id == "-"  # type: ignore[attr-defined]


def test_error_responses_carry_the_request_id_too(api: TestClient) -> None:
    response = api.get("/search", params={"q": "x", "size": 0}, headers={"X-Request-ID": "bad-size"})
    assert response.status_code == 422 and response.headers["x-request-id"] == "bad-size"


# ---- /metrics ---------------------------------------------------------------------------------

def test_metrics_count_requests_by_route_template_and_mode(api: TestClient) -> None:
    before = scrape(api)
    for _ in range(3):
        assert api.get("/search", params={"q": "安全生产", "mode": "bm25"}).status_code == 200
    assert api.get("/search", params={"q": "安全生产"}).status_code == 200
    assert api.get("/search", params={"q": "安全生产", "mode": "nope"}).status_code == 422
    assert api.get("/articles/no-such-article").status_code == 404
    assert api.get("/no/such/route").status_code == 404
    assert api.get("/admin/stats").status_code == 401
    after = scrape(api)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "govsearch_http_requests_total"
    assert delta(requests, method="GET", route="/search", mode="bm25", status="200") == 3
    assert delta(requests, method="GET", route="/search", mode="hybrid", status="200") == 1
    assert delta(requests, method="GET", route="/search", mode="invalid", status="422") == 1
    assert delta(requests, method="GET", route="/articles/{article_id}", mode="", status="404") == 1
    assert delta(requests, method="GET", route="unmatched", mode="", status="404") == 1
    assert delta(requests, method="GET", route="/admin/stats", mode="", status="401") == 1  # refused by the gate
    assert delta("govsearch_http_request_duration_seconds_count", route="/search", mode="bm25") == 3
    assert delta("govsearch_http_request_duration_seconds_bucket", route="/search", mode="bm25", le="+Inf") == 3
    assert delta("govsearch_search_admitted_total") == 4
    assert "govsearch_search_shed_total" in {name for name, _ in after}
    assert delta("govsearch_query_embedding_cache_hits_total") + delta("govsearch_query_embedding_cache_misses_total") == 1
    assert {labels for name, labels in after if name == "govsearch_reindex_jobs"} >= {(("state", "running"),)}


def test_a_scrape_answers_when_the_job_states_take_too_long(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job listing goes through the admin client, which waits minutes for a node that hangs."""
    def hanging(limit: int = 50) -> list:
        time.sleep(5)
        return []

    runtime = api.app.state.runtime
    monkeypatch.setattr(runtime.jobs, "list", hanging)
    # The suite's settings wait long for a busy node; a scrape waits ES_REQUEST_TIMEOUT.
    monkeypatch.setattr(runtime.settings, "es_request_timeout", 1.0)
    started = time.monotonic()
    metrics = scrape(api)
    assert time.monotonic() - started < 4
    assert "govsearch_http_requests_total" in {name for name, _ in metrics}
    assert not {labels for name, labels in metrics if name == "govsearch_reindex_jobs"}  # left out, not stale


def test_metrics_are_not_public(app_settings: Settings, sample_index: BuildResult) -> None:
    with TestClient(create_app(app_settings)) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-metrics-token"})
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    no_token = app_settings.model_copy(update={"metrics_token": None})
    with TestClient(create_app(no_token), client=("203.0.113.9", 4000)) as remote:
        assert remote.get("/metrics").status_code == 403
    with TestClient(create_app(no_token), client=("127.0.0.1", 4000)) as local:
        assert local.get("/metrics").status_code == 200


def test_elasticsearch_errors_are_counted_by_kind(app_settings: Settings) -> None:
    nothing_there = app_settings.model_copy(update={"es_url": f"http://127.0.0.1:{free_port()}"})
    with TestClient(create_app(nothing_there)) as client:
        assert client.get("/search", params={"q": "河长制", "mode": "bm25"}).status_code == 503
        samples = scrape(client)
    assert value(samples, "govsearch_elasticsearch_errors_total", kind="unreachable") == 1
    assert value(samples, "govsearch_http_requests_total", method="GET", route="/search", mode="bm25",
                 status="503") == 1
    # A 503 the searcher raises for what Elasticsearch answered (no index behind the alias) is counted as well.
    no_index = app_settings.model_copy(update={"index_alias": "test-no-such-alias"})
    with TestClient(create_app(no_index)) as client:
        response = client.get("/search", params={"q": "河长制", "mode": "bm25"})
        assert response.status_code == 503 and "not built" in response.json()["error"]["message"]
        samples = scrape(client)
    assert value(samples, "govsearch_elasticsearch_errors_total", kind="index_missing") == 1
