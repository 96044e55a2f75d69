"""Reliability and security limits (issue 12): bodies, admin gate and throttle, keyless per-IP limits,
trusted proxies, page tokens, filter caps, HEAD /healthz, CORS rejections, /opensearch.xml, log
redaction, local Swagger UI. Raw ASGI calls where only middleware answers; the real app otherwise."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from govsearch.apiprocess import ApiProcess
from govsearch.settings import Settings
from service.apikeys import PageTokens
from service.auth import AdminTokenError
from service.limits import ClientBuckets, ConfiguredNetworks, client_ip, in_networks, parse_networks
from service.logredact import RedactParameters, redact
from service.main import create_app

TOKEN = "safety-admin-token-0123456789"
MIB = 1024 * 1024
PUBLIC = "https://search.example.gov.cn"


# ---- raw ASGI: what middleware answers before any route (no lifespan, no Elasticsearch) -------------


def _call(app: Any, method: str, path: str, headers: dict[str, str], chunks: int, chunk: bytes = b"x" * MIB,
          client: tuple[str, int] = ("203.0.113.9", 5000)) -> tuple[int, dict, int, dict[str, str]]:
    """(status, JSON body, body chunks the app pulled, response headers) for a streamed request body."""
    pulled = 0
    messages: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        if pulled < chunks:
            pulled += 1
            return {"type": "http.request", "body": chunk, "more_body": pulled < chunks}
        await asyncio.sleep(3600)  # a client that sent everything waits for the answer
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": client, "server": ("testserver", 80), "state": {}}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 60))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], json.loads(body), pulled, response_headers


@pytest.fixture(scope="module")
def bare(settings: Settings) -> Any:
    return create_app(settings.model_copy(update={"admin_token": [TOKEN], "admin_auth_max_failures": 3,
                                                  "admin_auth_window_seconds": 60}))


def test_admin_without_a_token_is_refused_before_its_64_mib_body_is_read(bare: Any) -> None:
    status, body, pulled, headers = _call(bare, "PUT", "/admin/documents/x",
                                          {"content-type": "application/json"}, chunks=64)
    assert status == 401 and body["error"]["code"] == "unauthenticated"
    assert headers["www-authenticate"].startswith("Bearer")
    assert pulled == 0
    # Same with a declared length and no token: refused unread (by the size cap or the gate, never read).
    status, body, pulled, _ = _call(bare, "PUT", "/admin/documents/x", {"content-length": str(64 * MIB)}, chunks=64)
    assert status in (401, 413) and pulled == 0


def test_bodies_over_the_cap_are_413_from_content_length_at_once_and_while_streaming(bare: Any) -> None:
    auth = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    status, body, pulled, _ = _call(bare, "PUT", "/admin/documents/x", {**auth, "content-length": str(64 * MIB)},
                                    chunks=64, client=("203.0.113.10", 1))
    assert status == 413 and body["error"]["code"] == "too_large" and "bytes" in body["error"]["message"]
    assert pulled == 0
    # Chunked (no Content-Length): stopped as soon as the count passes the 2 MiB default.
    status, body, pulled, _ = _call(bare, "PUT", "/admin/documents/x", auth, chunks=64, client=("203.0.113.10", 1))
    assert status == 413 and body == {"error": {"code": "too_large", "message": body["error"]["message"]}}
    assert pulled <= 3


def test_failed_admin_authentication_is_throttled_per_client_ip(bare: Any) -> None:
    guesser = ("198.51.100.66", 1)
    for _ in range(3):
        status, body, _, _ = _call(bare, "GET", "/admin/stats", {"authorization": "Bearer guess-0123456789abcdef"},
                                   chunks=0, client=guesser)
        assert status == 403 and body["error"]["code"] == "forbidden"
    # Blocked now, even with the right token (a blocked guesser learns nothing).
    for auth in ("Bearer guess-again-0123456789", f"Bearer {TOKEN}", ""):
        status, body, _, headers = _call(bare, "GET", "/admin/stats", {"authorization": auth}, chunks=0,
                                         client=guesser)
        assert status == 429 and body["error"]["code"] == "too_many_failures"
        assert 1 <= int(headers["retry-after"]) <= 20  # 3 failures per 60 s: one more every 20 s
    # Another address is not affected.
    status, body, _, _ = _call(bare, "GET", "/admin/stats", {"authorization": "Bearer nope-0123456789abcdef"},
                               chunks=0, client=("198.51.100.67", 1))
    assert status == 403


def test_short_admin_tokens_refuse_to_start(settings: Settings) -> None:
    with pytest.raises(AdminTokenError, match="shorter than 16") as refused:
        create_app(settings.model_copy(update={"admin_token": [TOKEN, "change-me"]}))
    assert "change-me" not in str(refused.value)
    create_app(settings.model_copy(update={"admin_token": [TOKEN]}))  # 16+ characters start fine


def test_head_healthz_is_200(bare: Any) -> None:
    client = TestClient(bare)  # no lifespan: /healthz needs nothing
    assert client.head("/healthz").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}


def test_refused_cors_preflight_is_the_json_error_shape(bare: Any, settings: Settings) -> None:
    client = TestClient(bare)
    denied = client.options("/search", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert denied.status_code == 400
    assert denied.headers["content-type"].startswith("application/json")
    assert denied.json()["error"]["code"] == "cors_rejected" and "origin" in denied.json()["error"]["message"].lower()
    allowed = client.options("/search", headers={"Origin": "http://portal.example",
                                                 "Access-Control-Request-Method": "GET"})
    assert allowed.status_code == 200
    # With no cross-origin caller configured at all, a preflight is refused the same way (it was a 405).
    closed = TestClient(create_app(settings.model_copy(update={"cors_origins": [], "api_keys_file": None})))
    denied = closed.options("/search", headers={"Origin": "http://portal.example", "Access-Control-Request-Method": "GET"})
    assert denied.status_code == 400 and denied.json()["error"]["code"] == "cors_rejected"
    assert "access-control-allow-origin" not in closed.get("/healthz", headers={"Origin": "http://portal.example"}).headers


def test_swagger_ui_is_served_locally_under_a_strict_csp(bare: Any) -> None:
    client = TestClient(bare)
    page = client.get("/docs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text and "<script>" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "docs-init.js"):
        response = client.get(f"/docs/static/{asset}")
        assert response.status_code == 200 and len(response.content) > 100, asset
    assert "SwaggerUIBundle" in client.get("/docs/static/swagger-ui-bundle.js").text
    assert client.get("/docs/static/../../govsearch/settings.py").status_code == 404
    assert client.get("/openapi.json").json()["info"]["version"]
    assert client.get("/redoc").status_code == 404  # ReDoc exists only as a CDN script


def test_api_keys_and_search_text_are_redacted_from_access_logs(bare: Any) -> None:
    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, RedactParameters) for f in access.filters)  # installed by create_app
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/search?q=%E5%AE%89&api_key=SECRET-KEY-0123456789&size=2",
                                "1.1", 200), None)
    for log_filter in access.filters:
        log_filter.filter(record)
    line = record.getMessage()
    assert "SECRET-KEY" not in line and "api_key=[redacted]&size=2" in line
    # What was searched, beside the address that searched it: never (the search log keeps it without one).
    assert "%E5%AE%89" not in line and "?q=[redacted]&" in line
    assert redact("/suggest?api_key=abc") == "/suggest?api_key=[redacted]"
    assert redact("/articles/x?q=%E5%AE%89") == "/articles/x?q=[redacted]"
    assert redact("/search?query=api_key&mode=bm25") == "/search?query=api_key&mode=bm25"
    # Every spelling the API decodes to the parameter's name (it reads the query string with parse_qs).
    for name in ("api%5Fkey", "%61pi_key", "%61%70%69%5f%6b%65%79", "API_KEY"):
        assert redact(f"/search?mode=x&{name}=SECRET;size=2") == f"/search?mode=x&{name}=[redacted];size=2"
    assert redact("/search?qq=api%5Fkey&api_keys=x") == "/search?qq=api%5Fkey&api_keys=x"


# ---- units -----------------------------------------------------------------------------------------


def test_client_ip_believes_forwarded_for_only_from_trusted_proxies() -> None:
    proxies = parse_networks(["10.0.0.0/8", "::1"])

    def scope(peer: str, xff: str | None) -> dict:
        headers = [(b"x-forwarded-for", xff.encode())] if xff else []
        return {"client": (peer, 1), "headers": headers}

    assert client_ip(scope("203.0.113.5", "1.2.3.4"), proxies) == "203.0.113.5"  # not a proxy: ignored
    assert client_ip(scope("10.1.1.1", "1.2.3.4"), proxies) == "1.2.3.4"
    assert client_ip(scope("10.1.1.1", "6.6.6.6, 1.2.3.4, 10.2.2.2"), proxies) == "1.2.3.4"  # forged left part
    assert client_ip(scope("10.1.1.1", None), proxies) == "10.1.1.1"
    assert client_ip(scope("203.0.113.5", "1.2.3.4"), ()) == "203.0.113.5"
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        parse_networks(["not-an-ip"])


def test_address_settings_are_parsed_once_when_the_app_is_created() -> None:
    parsed = ConfiguredNetworks.parse(Settings(_env_file=None, metrics_allow_from=["10.0.0.0/8", "::1"]))  # type: ignore[call-arg]
    assert in_networks("10.9.8.7", parsed.metrics_allow_from) and not in_networks("11.0.0.1", parsed.metrics_allow_from)
    assert not in_networks("not-an-ip", parsed.metrics_allow_from)
    with pytest.raises(ValueError, match="METRICS_ALLOW_FROM"):  # at create_app, not at the first scrape
        create_app(Settings(_env_file=None, metrics_allow_from=["not-an-ip"]))  # type: ignore[call-arg]


def test_client_buckets_are_per_client_and_bounded() -> None:
    now = [0.0]
    buckets = ClientBuckets(60, 2, max_clients=2, clock=lambda: now[0])
    assert buckets.take("a")[0] and buckets.take("a")[0]
    allowed, wait = buckets.take("a")
    assert not allowed and wait == pytest.approx(1.0)
    assert buckets.take("b")[0]
    buckets.take("c")  # "a" is forgotten (least recently seen): it starts full again
    assert buckets.take("a")[0]
    now[0] += 1.0
    assert buckets.blocked("b") == 0


def test_page_tokens_expire_and_cannot_be_forged() -> None:
    now = [1000.0]
    tokens = PageTokens(b"k" * 32, 600, clock=lambda: now[0])
    token = tokens.issue()
    assert tokens.remaining(token) == 600
    assert tokens.remaining(token.replace("v1.1600", "v1.9999")) == 0  # a longer expiry breaks the signature
    assert PageTokens(b"other" * 8, 600, clock=lambda: now[0]).remaining(token) == 0
    for junk in (None, "", "v1.x.y", "a.b", "v1.1600.", "v1.\u00e9.x"):
        assert tokens.remaining(junk) == 0
    now[0] += 601
    assert tokens.remaining(token) == 0


# ---- the real app on the real node -----------------------------------------------------------------


PEER = "x-test-peer"  # the wrapper below turns this header into the TCP peer the app sees


def with_peer(app: Any) -> Any:
    """The app, with each request's peer address taken from the X-Test-Peer header: one TestClient (one
    event loop for the app's Elasticsearch client) can then speak as several machines."""

    async def wrapper(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            peer = dict(scope["headers"]).get(PEER.encode())
            if peer:
                scope = {**scope, "client": (peer.decode(), 1234),
                         "headers": [(k, v) for k, v in scope["headers"] if k != PEER.encode()]}
        await app(scope, receive, send)

    return wrapper


@pytest.fixture(scope="module")
def hardened(settings: Settings, sample_index: object) -> Iterator[TestClient]:
    """An app behind a trusted proxy range with a small keyless allowance and a public base URL."""
    app = create_app(settings.model_copy(update={
        "trusted_proxies": ["10.0.0.0/8"], "keyless_rate_limit_per_minute": 60, "keyless_burst": 2,
        "public_base_url": PUBLIC + "/", "require_api_key": False, "page_token_ttl_seconds": 600}))
    with TestClient(with_peer(app)) as client:
        yield client


def test_keyless_requests_are_rate_limited_per_client_ip(hardened: TestClient) -> None:
    alice = {PEER: "10.0.0.1", "X-Forwarded-For": "198.51.100.1"}  # through the trusted proxy
    assert [hardened.get("/suggest", params={"q": "安全"}, headers=alice).status_code for _ in range(2)] == [200, 200]
    limited = hardened.get("/search", params={"q": "安全"}, headers=alice)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 2
    # Another client behind the same proxy has its own bucket.
    bob = {PEER: "10.0.0.1", "X-Forwarded-For": "198.51.100.2"}
    assert hardened.get("/search", params={"q": "安全"}, headers=bob).status_code == 200
    # A direct client cannot escape its bucket by claiming other addresses: X-Forwarded-For is ignored.
    statuses = [hardened.get("/articles/nothing-here", headers={PEER: "203.0.113.50",
                                                               "X-Forwarded-For": f"192.0.2.{n}"}).status_code
                for n in range(3)]
    assert statuses == [404, 404, 429]
    # The page's own requests are keyless traffic too: a page token does not lift the limit.
    page = {PEER: "203.0.113.51"}
    assert "gs_page=" in hardened.get("/", headers=page).headers["set-cookie"]
    assert [hardened.get("/suggest", params={"q": "安全"}, headers=page).status_code for _ in range(3)] == [200, 200, 429]
    hardened.cookies.clear()
    assert hardened.head("/healthz", headers=page).status_code == 200  # health checks are never limited


def test_the_served_api_ignores_forwarded_for_from_an_untrusted_loopback_peer_and_settles_its_heap(
        settings: Settings, sample_index: object, cache_dir: Path, tmp_path: Path) -> None:
    # `python -m service`, as `make run` and the Docker image serve it: a bare uvicorn would believe
    # X-Forwarded-For from 127.0.0.1 and give every claimed address a bucket of its own.
    env = {"INDEX_ALIAS": settings.index_alias, "EMBEDDING_CACHE_DIR": str(cache_dir),
           "EMBEDDING_MODEL": settings.embedding_model, "KEYLESS_RATE_LIMIT_PER_MINUTE": "60", "KEYLESS_BURST": "2",
           "TRUSTED_PROXIES": None, "API_KEYS_FILE": None, "REQUIRE_API_KEY": None, "ADMIN_TOKEN": "",
           "GC_SETTLE": None}  # the default, as deployed (this suite's processes turn it off)
    if os.environ.get("ES_PORT"):
        env["ES_PORT"] = os.environ["ES_PORT"]
    with ApiProcess(env, tmp_path / "api.log", app=None) as api:
        statuses = [httpx.get(api.url + "/suggest", params={"q": "安全"}, headers={"X-Forwarded-For": f"192.0.2.{n}"},
                              trust_env=False).status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    settled = re.search(r"heap settled: (\d+) objects frozen", (tmp_path / "api.log").read_text(encoding="utf-8"))
    assert settled and int(settled.group(1)) > 100_000  # modules, dictionaries, the model: out of the collector's way


@pytest.mark.parametrize("params, parameter", [
    ({"publisher": ["x"] * 21}, "publisher"),
    ({"town": "镇" * 101}, "town"),
    ({"department": ["a", "b" * 5000]}, "department"),
])
def test_filter_values_are_capped_in_count_and_length(client: TestClient, params: dict, parameter: str) -> None:
    response = client.get("/search", params={"q": "安全", **params})
    assert response.status_code == 422
    assert response.json()["error"]["parameter"] == parameter


def test_filter_values_within_the_caps_are_accepted(client: TestClient) -> None:
    response = client.get("/search", params={"q": "安全", "publisher": ["镇" * 100] * 20, "mode": "bm25"})
    assert response.status_code == 200 and response.json()["hits"] == []


def test_opensearch_uses_the_public_base_url_and_never_caches_a_request_host(client: TestClient,
                                                                             hardened: TestClient) -> None:
    configured = hardened.get("/opensearch.xml", headers={"Host": "evil.example"})
    assert configured.status_code == 200
    assert "evil.example" not in configured.text and f'template="{PUBLIC}/?q={{searchTerms}}"' in configured.text
    assert configured.headers["cache-control"].startswith("public")
    # No PUBLIC_BASE_URL: the request's host is used, but no shared cache may keep it...
    echoed = client.get("/opensearch.xml", headers={"Host": "other.example"})
    assert echoed.status_code == 200 and "http://other.example/" in echoed.text
    assert "no-store" in echoed.headers["cache-control"] and "public" not in echoed.headers["cache-control"]
    # ...and a Host that is no host name is refused, not written into the XML.
    for host in ('evil.example"/><x a="', "evil.example/<script>", "a b"):
        refused = client.get("/opensearch.xml", headers={"Host": host})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_host", host
