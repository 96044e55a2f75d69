"""Portal API keys (401 / 403 / 429 and CORS), /suggest and /opensearch.xml, through the real app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from govsearch.settings import Settings
from service import apikeys
from service.admission import Overloaded
from service.apikeys import KeyFileError, TokenBucket, cors_allowlist, parse
from service.main import create_app

KEY_A = "key-for-portal-a-0123456789"
KEY_B = "key-for-portal-b-0123456789"  # a small rate limit
KEY_SERVER = "key-for-a-server-0123456789"  # no origins: server-to-server only
A, B = "https://a.gov.cn", "https://b.gov.cn"
B_RATE = 3


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "api-keys.json"
    path.write_text(json.dumps({"keys": [
        {"key": KEY_A, "name": "portal-a", "origins": [A], "rate_limit_per_minute": 600},
        {"key": KEY_B, "name": "portal-b", "origins": [B + "/"], "rate_limit_per_minute": B_RATE},
        {"key": KEY_SERVER, "name": "nightly-export", "rate_limit_per_minute": 600},
    ]}), encoding="utf-8")
    return path


def _settings(settings: Settings, keys_file: Path, **changes: object) -> Settings:
    return settings.model_copy(update={"api_keys_file": keys_file, "cors_origins": ["http://portal.example"],
                                       **changes})


@pytest.fixture(scope="module")
def keyed(settings: Settings, sample_index, keys_file: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(settings, keys_file))) as client:
        yield client


def _error(response) -> str:
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]["code"]


# ---- keys on the real app -------------------------------------------------------------------------


def test_without_a_key_requests_pass_when_keys_are_optional(keyed: TestClient) -> None:
    assert keyed.get("/search", params={"q": "安全"}).status_code == 200


def test_a_503_is_not_charged_to_the_key_or_the_address(settings: Settings, sample_index, keys_file: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Searches the service sheds (or cannot answer with Elasticsearch away) give the caller's token back."""
    async def shed(req: object) -> dict:
        raise Overloaded("every search slot is taken")

    with TestClient(create_app(_settings(settings, keys_file, keyless_rate_limit_per_minute=B_RATE,
                                         keyless_burst=B_RATE))) as client:
        monkeypatch.setattr(client.app.state.runtime.searcher, "search", shed)
        keyed_headers = {"X-API-Key": KEY_B, "Origin": B}
        for headers in (keyed_headers, {}):
            assert [client.get("/search", params={"q": "安全"}, headers=headers).status_code
                    for _ in range(2 * B_RATE)] == [503] * (2 * B_RATE)
        monkeypatch.undo()
        for headers in (keyed_headers, {}):
            statuses = [client.get("/search", params={"q": "安全"}, headers=headers).status_code
                        for _ in range(B_RATE + 1)]
            assert statuses == [200] * B_RATE + [429], headers


def test_unknown_key_is_401(keyed: TestClient) -> None:
    for response in (keyed.get("/search", params={"q": "安全"}, headers={"X-API-Key": "nope-nope-nope-nope"}),
                     keyed.get("/search", params={"q": "安全", "api_key": "nope-nope-nope-nope"}),
                     keyed.get("/articles/whatever", headers={"X-API-Key": "nope-nope-nope-nope"}),
                     keyed.get("/suggest", params={"q": "安全"}, headers={"X-API-Key": "nope-nope-nope-nope"})):
        assert response.status_code == 401
        assert _error(response) == "invalid_api_key"


def test_key_from_its_origin_is_served_with_cors_and_rate_headers(keyed: TestClient) -> None:
    response = keyed.get("/search", params={"q": "安全"}, headers={"X-API-Key": KEY_A, "Origin": A})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == A
    assert response.headers["x-ratelimit-limit"] == "600"
    assert int(response.headers["x-ratelimit-remaining"]) < 600


def test_key_from_another_origin_is_403_readable_by_the_browser(keyed: TestClient) -> None:
    response = keyed.get("/search", params={"q": "安全"}, headers={"X-API-Key": KEY_A, "Origin": B})
    assert response.status_code == 403
    assert _error(response) == "origin_not_allowed"
    assert response.headers["access-control-allow-origin"] == B  # so the widget can show the message
    evil = keyed.get("/search", params={"q": "安全"}, headers={"X-API-Key": KEY_A, "Origin": "https://evil.example"})
    assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers


def test_server_key_works_without_origin_and_refuses_browsers(keyed: TestClient) -> None:
    assert keyed.get("/search", params={"q": "安全", "api_key": KEY_SERVER}).status_code == 200
    browser = keyed.get("/search", params={"q": "安全"}, headers={"X-API-Key": KEY_SERVER, "Origin": A})
    assert browser.status_code == 403


def test_rate_limit_is_429_with_retry_after_and_per_key(keyed: TestClient) -> None:
    headers = {"X-API-Key": KEY_B, "Origin": B}
    statuses = [keyed.get("/suggest", params={"q": "安全"}, headers=headers).status_code for _ in range(B_RATE)]
    assert statuses == [200] * B_RATE
    limited = keyed.get("/search", params={"q": "安全"}, headers=headers)
    assert limited.status_code == 429
    assert _error(limited) == "rate_limited"
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 60 / B_RATE + 1
    assert limited.headers["access-control-allow-origin"] == B
    assert "retry-after" in limited.headers["access-control-expose-headers"].lower()
    # One noisy portal does not starve the others.
    assert keyed.get("/search", params={"q": "安全"}, headers={"X-API-Key": KEY_A, "Origin": A}).status_code == 200
    assert keyed.get("/search", params={"q": "安全"}).status_code == 200


def test_preflight_allows_every_key_origin_and_the_key_header(keyed: TestClient) -> None:
    for origin in (A, B, "http://portal.example"):
        response = keyed.options("/search", headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                                     "Access-Control-Request-Headers": "x-api-key"})
        assert response.status_code == 200, (origin, response.text)
        assert response.headers["access-control-allow-origin"] == origin
        assert "x-api-key" in response.headers["access-control-allow-headers"].lower()
    denied = keyed.options("/search", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert denied.status_code == 400


def test_required_keys_refuse_anonymous_callers_but_not_our_own_page(settings: Settings, sample_index,
                                                                    keys_file: Path) -> None:
    with TestClient(create_app(_settings(settings, keys_file, require_api_key=True))) as strict:
        anonymous = strict.get("/search", params={"q": "安全"})
        assert anonymous.status_code == 401 and _error(anonymous) == "api_key_required"
        # Headers any client can send prove nothing: they no longer stand in for a key.
        for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://testserver"},
                        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}):
            refused = strict.get("/search", params={"q": "安全"}, headers=headers)
            assert refused.status_code == 401 and _error(refused) == "api_key_required", headers
        strict.cookies.set("gs_page", "v1.9999999999.forged")
        assert strict.get("/search", params={"q": "安全"}).status_code == 401
        strict.cookies.clear()
        cross = strict.get("/search", params={"q": "安全"}, headers={"Sec-Fetch-Site": "cross-site", "Origin": A})
        assert cross.status_code == 401
        assert strict.get("/search", params={"q": "安全"}, headers={"X-API-Key": KEY_A, "Origin": A}).status_code == 200
        # Pages, static files and health checks are never guarded.
        for path in ("/article.html", "/static/app.js", "/widget.js", "/opensearch.xml", "/healthz"):
            assert strict.get(path).status_code == 200, path
        # Our own page: loading it hands the browser a signed page token (HttpOnly, SameSite=Strict cookie),
        # and the page's requests carry it.
        page = strict.get("/")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("gs_page=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        for path, params in (("/search", {"q": "安全"}), ("/suggest", {"q": "安全"})):
            assert strict.get(path, params=params).status_code == 200, path  # the client keeps the cookie
        strict.cookies.clear()
        assert strict.get("/search", params={"q": "安全"}).status_code == 401


# ---- the page's own endpoints ---------------------------------------------------------------------


def test_opensearch_description(keyed: TestClient) -> None:
    response = keyed.get("/opensearch.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/opensearchdescription+xml")
    body = response.text
    assert 'xmlns="http://a9.com/-/spec/opensearch/1.1/"' in body
    assert '<Url type="text/html" method="get" template="http://testserver/?q={searchTerms}"/>' in body
    assert ('template="http://testserver/suggest?q={searchTerms}&amp;format=opensearch"' in body
            and 'type="application/x-suggestions+json"' in body)
    assert '<link rel="search" type="application/opensearchdescription+xml"' in keyed.get("/").text


def test_suggest_titles_and_the_opensearch_shape(keyed: TestClient) -> None:
    response = keyed.get("/suggest", params={"q": "港西镇召开"})
    assert response.status_code == 200
    suggestions = response.json()["suggestions"]
    titles = [item for item in suggestions if item["kind"] == "title"]
    assert titles and all("港西镇召开" in item["title"] and item["title"] == item["text"] for item in titles[:3])
    assert len({item["id"] for item in titles}) == len(titles)
    assert len({item["text"] for item in suggestions}) == len(suggestions)
    shaped = keyed.get("/suggest", params={"q": "港西镇召开", "format": "opensearch"})
    assert shaped.headers["content-type"].startswith("application/x-suggestions+json")
    query, texts, descriptions, urls = shaped.json()
    assert query == "港西镇召开" and texts == [item["text"] for item in suggestions]
    assert len(descriptions) == len(urls) == len(texts)
    assert all(url.startswith("http://testserver/article.html?id=") == (item["kind"] == "title")
               for url, item in zip(urls, suggestions, strict=True))


@pytest.mark.parametrize("params", [{"q": "  "}, {"q": "安" * 201}, {"q": "安全", "size": 0}, {}])
def test_suggest_validates_like_search(keyed: TestClient, params: dict) -> None:
    response = keyed.get("/suggest", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["parameter"] in ("q", "size")


def test_pages_are_served_with_a_strict_content_security_policy(keyed: TestClient) -> None:
    for path in ("/", "/article.html"):
        response = keyed.get(path)
        assert response.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "http" not in response.text.split("<body")[0].replace("http-equiv", "")  # nothing external in <head>
    assert keyed.get("/static/../govsearch/settings.py").status_code == 404
    assert keyed.get("/static/widget.js").status_code == 404  # only the listed files
    widget = keyed.get("/widget.js")
    assert widget.headers["content-type"].startswith("text/javascript")


def test_pages_and_files_answer_head_as_get(keyed: TestClient) -> None:
    """Uptime monitors and link checkers ask with HEAD: the same status and headers, no 405."""
    for path in ("/", "/article.html", "/static/style.css", "/favicon.ico", "/widget.js", "/opensearch.xml"):
        got, head = keyed.get(path), keyed.head(path)
        assert (head.status_code, head.headers["content-type"]) == (200, got.headers["content-type"]), path
        assert head.headers["content-length"] == got.headers["content-length"], path
    assert keyed.head("/view/x", follow_redirects=False).status_code == 307
    assert keyed.head("/static/nothing.js").status_code == 404


# ---- units ----------------------------------------------------------------------------------------


def test_token_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(60, capacity=2, clock=lambda: now[0])
    assert bucket.take()[0] and bucket.take()[0]
    allowed, wait = bucket.take()
    assert not allowed and wait == pytest.approx(1.0)
    now[0] += 0.5
    assert not bucket.take()[0]
    now[0] += 0.5
    assert bucket.take()[0]


@pytest.mark.parametrize("entry, message", [
    ({"key": "short", "name": "x"}, "at least 16"),
    ({"key": KEY_A, "name": ""}, "'name' is required"),
    ({"key": KEY_A, "name": "x", "origins": ["*"]}, "must look like"),
    ({"key": KEY_A, "name": "x", "origins": ["a.gov.cn"]}, "must look like"),
    ({"key": KEY_A, "name": "x", "origins": ["https://a.gov.cn/path"]}, "must look like"),
    ({"key": KEY_A, "name": "x", "rate_limit_per_minute": 0}, "positive integer"),
    ({"key": KEY_A, "name": "x", "rate_limit_per_minute": True}, "positive integer"),
])
def test_malformed_key_entries_are_refused(entry: dict, message: str) -> None:
    with pytest.raises(KeyFileError, match=message):
        parse({"keys": [entry]})


def test_key_origins_are_read_as_browsers_spell_them() -> None:
    registry = parse({"keys": [{"key": KEY_A, "name": "a", "origins": ["HTTPS://Portal.GOV.cn:443/", "http://b.cn:8080"]}]})
    assert registry.origins == ["http://b.cn:8080", "https://portal.gov.cn"]


def test_duplicates_and_bad_files_are_refused(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(KeyFileError, match="twice"):
        parse({"keys": [{"key": KEY_A, "name": "a"}, {"key": KEY_A, "name": "b"}]})
    with pytest.raises(KeyFileError, match="duplicate name"):
        parse({"keys": [{"key": KEY_A, "name": "a"}, {"key": KEY_B, "name": "a"}]})
    with pytest.raises(KeyFileError, match="does not exist"):
        apikeys.load(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(KeyFileError, match="JSON"):
        create_app(settings.model_copy(update={"api_keys_file": broken}))  # the API refuses to start
    assert len(apikeys.load(None)) == 0


def test_cors_allowlist_is_the_union() -> None:
    registry = parse({"keys": [{"key": KEY_A, "name": "a", "origins": [A, "http://portal.example"]},
                               {"key": KEY_B, "name": "b", "origins": [B + "/"]}]})
    # CORS_ORIGINS come read by the settings (tests/unit/test_settings.py), the keys' origins by `parse`.
    assert cors_allowlist(["http://portal.example", "http://other.example"], registry) == [
        "http://portal.example", "http://other.example", A, B]
