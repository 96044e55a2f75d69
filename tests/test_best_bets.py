"""Best bets (办事直达) through the real app and node: admin rules, exact and contains matching, shown
in search responses above the hits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from govsearch.settings import Settings
from tests.conftest import nothing_stored

ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def bets(client: TestClient, es: Elasticsearch, settings: Settings) -> Iterator[TestClient]:
    """The client, with no best-bet rules before and after."""
    with nothing_stored(es, settings.best_bets_index, client.app.state.runtime.best_bets):  # type: ignore[attr-defined]
        yield client


def best_bets(client: TestClient, q: str) -> list[dict]:
    response = client.get("/search", params={"q": q, "mode": "bm25"})
    assert response.status_code == 200, response.text
    return response.json()["best_bets"]


def test_rules_are_managed_by_admins_and_shown_above_the_hits(bets: TestClient) -> None:
    assert bets.get("/admin/bestbets", headers=ADMIN).json() == {"best_bets": []}
    assert best_bets(bets, "安全生产") == []
    article = bets.get("/search", params={"q": "河长制", "mode": "bm25"}).json()["hits"][0]["id"]
    created = bets.put("/admin/bestbets/river", headers=ADMIN,
                       json={"query": "河长", "match": "contains", "title": "河长制工作", "article_id": article})
    assert created.status_code == 201, created.text
    assert bets.put("/admin/bestbets/permit", headers=ADMIN, json={
        "query": "建房審批", "title": "农村建房审批办事指南", "url": "https://zwfw.example.gov.cn/jianfang"}).status_code == 201
    # exact: the whole query, normalised (traditional, case, spaces); contains: anywhere in it.
    assert [b["id"] for b in best_bets(bets, " 建房审批 ")] == ["permit"]
    assert best_bets(bets, "建房审批流程") == []
    assert [b["title"] for b in best_bets(bets, "全民河长 工作")] == ["河长制工作"]
    assert best_bets(bets, "河长")[0]["article_id"] == article
    # Replaced (200), listed, deleted (204, then 404).
    again = bets.put("/admin/bestbets/permit", headers=ADMIN,
                     json={"query": "建房审批", "match": "contains", "title": "建房审批", "url": "/view/x"})
    assert again.status_code == 200 and again.json()["match"] == "contains"
    assert [b["id"] for b in bets.get("/admin/bestbets", headers=ADMIN).json()["best_bets"]] == ["permit", "river"]
    assert [b["id"] for b in best_bets(bets, "建房审批流程")] == ["permit"]
    assert bets.delete("/admin/bestbets/permit", headers=ADMIN).status_code == 204
    assert bets.delete("/admin/bestbets/permit", headers=ADMIN).status_code == 404
    assert best_bets(bets, "建房审批流程") == []


@pytest.mark.parametrize("body", [
    {"query": "a", "title": "t"},  # no target
    {"query": "a", "title": "t", "url": "https://x.example", "article_id": "y"},  # two
    {"query": "a", "title": "t", "url": "javascript:alert(1)"},
    {"query": "a", "title": "t", "url": "//evil.example/"},
    {"query": "", "title": "t", "url": "/x"},
    {"query": " \u3000 ", "title": "t", "url": "/x", "match": "contains"},  # empty once normalised: would match all
    {"query": "a", "title": "   ", "url": "/x"},
    {"query": "a", "title": "t", "url": "/x", "match": "regex"},
    {"query": "a", "title": "t", "article_id": "no-such-article"},  # the page would link to a 404
    {"query": "a", "title": "t", "url": "/\\evil.example/"},  # browsers read /\host as another host
])
def test_invalid_rules_are_422(bets: TestClient, body: dict) -> None:
    response = bets.put("/admin/bestbets/r1", headers=ADMIN, json=body)
    assert response.status_code == 422 and response.json()["error"]["code"]
    if "article_id" in body and "url" not in body:
        assert response.json()["error"]["parameter"] == "article_id"
    assert bets.get("/admin/bestbets", headers=ADMIN).json() == {"best_bets": []}  # nothing stored
    assert best_bets(bets, "安全生产") == []


def test_an_unreadable_stored_rule_fails_neither_searches_nor_the_list(bets: TestClient, es: Elasticsearch,
                                                                       settings: Settings) -> None:
    """A rule written around the API (or by an older version) that the contract refuses is left out."""
    assert bets.put("/admin/bestbets/good", headers=ADMIN,
                    json={"query": "安全", "match": "contains", "title": "安全生产专栏", "url": "/safety"}).status_code == 201
    es.index(index=settings.best_bets_index, id="bad", document={"query": "", "match": "contains", "title": "x"},
             refresh=True)
    bets.app.state.runtime.best_bets._cache = None  # type: ignore[attr-defined]
    assert [b["id"] for b in best_bets(bets, "安全生产")] == ["good"]
    assert [b["id"] for b in bets.get("/admin/bestbets", headers=ADMIN).json()["best_bets"]] == ["good"]
    assert bets.delete("/admin/bestbets/bad", headers=ADMIN).status_code == 204


def test_best_bets_need_an_admin_token(bets: TestClient) -> None:
    assert bets.get("/admin/bestbets").status_code == 401
    assert bets.put("/admin/bestbets/r1", json={"query": "a", "title": "t", "url": "/x"}).status_code == 401


@pytest.mark.parametrize("bet_id", ["%2E%2E", "%2E"])  # sent as is (`curl --path-as-is` of .. and .)
def test_a_rule_id_that_is_a_path_segment_is_refused(bets: TestClient, bet_id: str) -> None:
    """In Elasticsearch's URL (/index/_doc/ID) "." and ".." are segments an HTTP client collapses: a delete of
    rule ".." became a request on the rules index itself."""
    for method in ("PUT", "DELETE"):
        response = bets.request(method, f"/admin/bestbets/{bet_id}", headers=ADMIN,
                                json={"query": "a", "title": "t", "url": "/x"} if method == "PUT" else None)
        assert response.status_code == 422, (method, response.status_code, response.text)
        assert response.json()["error"]["parameter"] == "bet_id"


def test_a_rule_whose_article_is_deleted_is_not_shown_until_the_article_is_back(bets: TestClient) -> None:
    article = {"title": "农村建房审批流程说明", "body": "农村村民建房需要向镇政府提出申请，经审批后开工。", "publisher": "测试镇"}
    assert bets.put("/admin/documents/bestbet-target-1", headers=ADMIN, json=article).status_code in (200, 201)
    try:
        assert bets.put("/admin/bestbets/build", headers=ADMIN, json={
            "query": "建房", "match": "contains", "title": "建房审批", "article_id": "bestbet-target-1"}).status_code == 201
        assert [b["id"] for b in best_bets(bets, "农村建房")] == ["build"]
        assert bets.delete("/admin/documents/bestbet-target-1", headers=ADMIN).status_code == 200
        assert best_bets(bets, "农村建房") == []  # no link to a 404
        listed = bets.get("/admin/bestbets", headers=ADMIN).json()["best_bets"]
        assert [(b["id"], b["shown"]) for b in listed] == [("build", False)]  # kept, and flagged for the admins
        assert bets.put("/admin/documents/bestbet-target-1", headers=ADMIN, json=article).status_code == 201
        assert [b["id"] for b in best_bets(bets, "农村建房")] == ["build"]
        assert [b["shown"] for b in bets.get("/admin/bestbets", headers=ADMIN).json()["best_bets"]] == [True]
    finally:
        bets.delete("/admin/documents/bestbet-target-1", headers=ADMIN)
