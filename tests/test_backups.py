"""/admin/backups and `python -m indexer.snapshots`: snapshots of the live index and system indices
to the node's fs repository, and restores into a new index behind an atomic alias switch.

The test deletes the live index (a lost index) and restores it with the admin-written article back,
and restores again while searches run, none of which may fail.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from govsearch.settings import Settings
from indexer import elastic, snapshots
from indexer.embeddings import Embedder
from indexer.pipeline import build
from service.jobs import JobStore
from service.main import create_app
from tests.conftest import SAMPLE

TOKEN = "backup-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALIAS = "test-backup-articles"
JOBS = "test-backup-jobs"
SYSTEM_PREFIX = "test-backup-sys-"
JOURNAL = f"{SYSTEM_PREFIX}journal"  # a hidden system index (mappings/journal.json), found by its prefix
ARTICLE = {"title": "港西镇为独居老人安装智能水表", "body": "港西镇近日为辖区独居老人免费安装智能水表，"
           "用水异常时自动提醒网格员上门查看。" * 3, "date": "2024-03-01", "town": "港西镇"}


@pytest.fixture(scope="module")
def backup_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "index_alias": ALIAS, "jobs_index": JOBS, "admin_token": [TOKEN],
        "journal_index": JOURNAL, "backup_index_prefixes": [SYSTEM_PREFIX],
        "snapshot_repository": f"test-backups-{secrets.token_hex(3)}",
        "snapshot_location": f"test-backups-{secrets.token_hex(3)}",
        "admin_auth_max_failures": 10_000,
    })


def _cleanup(es: Elasticsearch, settings: Settings) -> None:
    for name in elastic.versioned_indices(es, ALIAS):
        es.indices.delete(index=name)
    es.indices.delete(index=f"{JOBS},{JOURNAL}", ignore_unavailable=True)


@pytest.fixture(scope="module")
def api(es: Elasticsearch, embedder: Embedder, backup_settings: Settings) -> Iterator[TestClient]:
    _cleanup(es, backup_settings)
    build(es, embedder, [SAMPLE], alias=ALIAS)
    JobStore(es, JOBS, ALIAS).ensure_index()
    with TestClient(create_app(backup_settings)) as client:
        yield client
    _cleanup(es, backup_settings)
    es.options(ignore_status=404).snapshot.delete_repository(name=backup_settings.snapshot_repository)


def _finished(api: TestClient, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = api.get(f"/admin/backups/{name}", headers=AUTH)
        assert got.status_code == 200, got.text
        if got.json()["state"] != "IN_PROGRESS":
            return dict(got.json())
        time.sleep(0.3)
    raise AssertionError(f"snapshot {name} did not finish")


def _articles(api: TestClient) -> int:
    return int(api.get("/admin/stats", headers=AUTH).json()["articles"])


def test_backup_then_lose_the_index_then_restore_brings_every_article_back(api: TestClient, es: Elasticsearch) -> None:
    assert api.put("/admin/documents/backup-test-1", json=ARTICLE, headers=AUTH).status_code == 201
    before = _articles(api)
    live = elastic.alias_target(es, ALIAS)

    started = api.post("/admin/backups", headers=AUTH)
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "IN_PROGRESS" and started.json()["live_index"] == live
    snap = _finished(api, started.json()["snapshot"])
    assert snap["state"] == "SUCCESS" and snap["failures"] == []
    assert set(snap["indices"]) == {live, JOBS, JOURNAL} and snap["alias"] == ALIAS
    assert es.indices.get_settings(index=JOURNAL)[JOURNAL]["settings"]["index"]["hidden"] == "true"
    assert snap["requested_by"] and snap["requested_by"].startswith("tok-")
    assert snap["snapshot"] in {b["snapshot"] for b in api.get("/admin/backups", headers=AUTH).json()["backups"]}

    # Disaster: the live index and the jobs index are gone; search says so.
    es.indices.delete(index=f"{live},{JOBS}")
    assert api.get("/search", params={"q": "智能水表", "mode": "bm25"}).status_code == 503

    restored = api.post(f"/admin/backups/{snap['snapshot']}/restore", headers=AUTH)
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["restored_from"] == live and body["index"] != live and body["previous_index"] is None
    assert body["system_indices_restored"] == [JOBS] and es.indices.exists(index=JOBS)
    assert elastic.alias_target(es, ALIAS) == body["index"]
    assert _articles(api) == before
    assert api.get("/articles/backup-test-1").json()["title"] == ARTICLE["title"]
    hits = api.get("/search", params={"q": "智能水表"}).json()["hits"]
    assert hits[0]["id"] == "backup-test-1"


def test_restoring_over_a_live_index_never_interrupts_search(api: TestClient, es: Elasticsearch) -> None:
    started = api.post("/admin/backups", headers=AUTH)
    name = _finished(api, started.json()["snapshot"])["snapshot"]
    live = elastic.alias_target(es, ALIAS)
    statuses: list[int] = []
    stop = threading.Event()

    def search_until_stopped() -> None:
        while not stop.is_set():
            statuses.append(api.get("/search", params={"q": "智能水表", "mode": "bm25"}).status_code)

    searcher = threading.Thread(target=search_until_stopped)
    searcher.start()
    try:
        restored = api.post(f"/admin/backups/{name}/restore", headers=AUTH)
    finally:
        stop.set()
        searcher.join()
    assert restored.status_code == 200, restored.text
    assert restored.json()["previous_index"] == live and restored.json()["system_indices_restored"] == []
    assert elastic.alias_target(es, ALIAS) == restored.json()["index"] != live
    assert statuses and set(statuses) == {200}, f"{len(statuses)} searches during the restore: {set(statuses)}"


def test_admin_writes_made_after_the_snapshot_survive_its_restore(api: TestClient, es: Elasticsearch) -> None:
    """As they survive a rebuild and a rollback: restored without them, the next rebuild (which replays the
    journal) would have flipped them back, unannounced."""
    gone = api.get("/search", params={"q": "工作会议", "mode": "bm25"}).json()["hits"][0]["id"]
    name = _finished(api, api.post("/admin/backups", headers=AUTH).json()["snapshot"])["snapshot"]
    assert api.put("/admin/documents/backup-after-1", json={**ARTICLE, "title": "快照之后写入的文章"},
                   headers=AUTH).status_code == 201
    assert api.delete(f"/admin/documents/{gone}", headers=AUTH).status_code == 200
    restored = api.post(f"/admin/backups/{name}/restore", headers=AUTH)
    assert restored.status_code == 200, restored.text
    assert api.get("/articles/backup-after-1").json()["title"] == "快照之后写入的文章"
    assert api.get(f"/articles/{gone}").status_code == 404


def test_unknown_snapshot_is_404_and_admin_auth_is_required(api: TestClient) -> None:
    assert api.get("/admin/backups/no-such-snapshot", headers=AUTH).status_code == 404
    missing = api.post("/admin/backups/no-such-snapshot/restore", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert api.get("/admin/backups").status_code == 401
    assert api.post("/admin/backups", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 403


def test_a_repository_outside_path_repo_is_a_503_that_says_why(es: Elasticsearch, backup_settings: Settings,
                                                                api: TestClient) -> None:
    elsewhere = backup_settings.model_copy(update={"snapshot_repository": "test-backups-elsewhere",
                                                   "snapshot_location": "/nonexistent/outside-path-repo"})
    with TestClient(create_app(elsewhere)) as client:
        refused = client.post("/admin/backups", headers=AUTH)
    assert refused.status_code == 503 and "path.repo" in refused.json()["error"]["message"]


def test_the_command_line_backs_up_and_restores(es: Elasticsearch, backup_settings: Settings,
                                                api: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(snapshots, "settings_or_exit", lambda: backup_settings)
    before = elastic.alias_target(es, ALIAS)
    assert snapshots.main(["backup"]) == 0
    assert '"state": "SUCCESS"' in capsys.readouterr().out
    assert snapshots.main(["restore"]) == 0  # the newest successful snapshot
    assert f'"previous_index": "{before}"' in capsys.readouterr().out
    assert elastic.alias_target(es, ALIAS) != before
    assert _articles(api) > 0


def test_rollback_after_a_restore_goes_back_to_the_index_live_before_it(api: TestClient, es: Elasticsearch,
                                                                       embedder: Embedder) -> None:
    older = elastic.alias_target(es, ALIAS)
    snap = _finished(api, api.post("/admin/backups", headers=AUTH).json()["snapshot"])
    newer = build(es, embedder, [SAMPLE], alias=ALIAS, keep_previous=5).index
    restored = api.post(f"/admin/backups/{snap['snapshot']}/restore", headers=AUTH).json()
    # The restored copy of `older` keeps its creation date, older than `newer`'s: only the switch history
    # knows that `newer` was live right before it.
    assert restored["previous_index"] == newer and restored["restored_from"] == older

    rolled = api.post("/admin/rollback", headers=AUTH)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json() == {"alias": ALIAS, "index": newer, "previous_index": restored["index"]}
    rolled_again = api.post("/admin/rollback", headers=AUTH)  # one switch further back
    assert rolled_again.status_code == 200 and rolled_again.json()["index"] == older


def test_a_restore_is_refused_while_the_reindex_lease_is_held(api: TestClient, es: Elasticsearch) -> None:
    """A build from the command line (or a job, a rollback) holds the lease: a restore would switch the alias
    under it."""
    name = _finished(api, api.post("/admin/backups", headers=AUTH).json()["snapshot"])["snapshot"]
    live = elastic.alias_target(es, ALIAS)
    with JobStore(es, JOBS, ALIAS).holding("cli-build-host:1"):
        refused = api.post(f"/admin/backups/{name}/restore", headers=AUTH)
    assert refused.status_code == 409 and refused.json()["error"]["job_id"] == "cli-build-host:1", refused.text
    assert elastic.alias_target(es, ALIAS) == live
