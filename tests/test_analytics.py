"""The search log through the real app and node: searches and clicks recorded without personal data,
GET /hot, GET /admin/analytics, POST /events/click, /admin/hidden-queries."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from govsearch.settings import Settings
from tests.conftest import nothing_stored

ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def log(client: TestClient, es: Elasticsearch, settings: Settings) -> Iterator[TestClient]:
    """The client, with an empty search log before and after (what earlier tests' searches left buffered is
    written first, so it cannot land in this test's log)."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    client.portal.call(runtime.query_log.flush)  # type: ignore[union-attr]
    es.indices.delete(index=settings.query_log_index, ignore_unavailable=True)
    runtime.query_log._ready = False
    yield client
    es.indices.delete(index=settings.query_log_index, ignore_unavailable=True)
    runtime.query_log._ready = False
    client.portal.call(runtime.popular.refresh)  # no log: no popular query left for other tests


def flush(client: TestClient) -> None:
    client.portal.call(client.app.state.runtime.query_log.flush)  # type: ignore[attr-defined, union-attr]


def person(client: TestClient, number: int) -> TestClient:
    """The same running app (its event loop and lifespan state), asked from another address: another searcher."""
    other = TestClient(client.app, client=(f"192.0.2.{number}", 50000))
    other.portal = client.portal
    other.app_state.update(client.app_state)
    return other


def searched_by(client: TestClient, q: str, people: int, *, times: int = 1, mode: str = "bm25") -> list[dict]:
    """`q` searched `times` times by each of `people` different searchers; their responses."""
    return [person(client, number).get("/search", params={"q": q, "mode": mode}).json()
            for number in range(1, people + 1) for _ in range(times)]


def test_hot_and_analytics_are_empty_before_any_search(log: TestClient) -> None:
    assert log.get("/hot").json() == {"hot": []}
    report = log.get("/admin/analytics", headers=ADMIN).json()
    assert report["searches"] == 0 and report["top_queries"] == [] and report["zero_result_queries"] == []


def test_searches_and_clicks_become_hot_searches_and_analytics(log: TestClient, es: Elasticsearch,
                                                              settings: Settings) -> None:
    floor = settings.suggest_min_searches  # the privacy floor: a query fewer people searched is never hot
    searched_by(log, "安全生产", floor)
    searched_by(log, "疫情防控", floor - 1, times=2)  # more searches than the floor, by fewer people
    searched_by(log, "ＱＷＥＲＴＹＵＩＯＰ", 2)
    person(log, 1).get("/search", params={"q": "安全生产", "mode": "bm25", "page": 2})  # the same search, read further
    hit = person(log, 1).get("/search", params={"q": "安全生产", "mode": "bm25"}).json()["hits"][0]
    assert log.post("/events/click", json={"query": "安全生产", "article_id": hit["id"], "position": 1}).status_code == 204
    flush(log)

    assert log.get("/hot").json()["hot"] == [{"query": "安全生产", "count": floor + 1}]  # 疫情防控: below the floor
    report = log.get("/admin/analytics", headers=ADMIN).json()
    searches = (floor + 1) + 2 * (floor - 1) + 2
    assert report["searches"] == searches and report["clicks"] == 1
    assert report["click_through"] == round(1 / searches, 3)
    assert report["top_queries"][:2] == [  # the admins' view counts searches, whoever made them
        {"query": "疫情防控", "searches": 2 * (floor - 1), "clicks": 0, "click_through": 0.0},
        {"query": "安全生产", "searches": floor + 1, "clicks": 1, "click_through": round(1 / (floor + 1), 3)}]
    assert report["zero_result_queries"] == [{"query": "QWERTYUIOP", "searches": 2}]  # normalised

    # Nothing about who searched is stored but a pseudonym of the day: exactly these fields, whatever the
    # request carried; one per address, and not the address.
    docs = [doc["_source"] for doc in es.search(index=settings.query_log_index, size=50)["hits"]["hits"]]
    assert {key for doc in docs for key in doc} == {"kind", "query", "timestamp", "total", "matched", "corrected",
                                                    "searcher", "article_id", "position"}
    searches_logged = [doc for doc in docs if doc["kind"] == "search"]
    assert all(set(doc) == {"kind", "query", "timestamp", "total", "matched", "corrected", "searcher"}
               for doc in searches_logged)
    assert len({doc["searcher"] for doc in searches_logged}) == floor
    # A keyed digest: 16 hex digits that neither spell the address nor equal its plain (unkeyed) digest.
    addresses = [f"192.0.2.{number}".encode() for number in range(1, floor + 1)]
    plain = {hashlib.new(name, address).hexdigest()[:16]
             for name in ("md5", "sha1", "sha256") for address in addresses}
    assert all(re.fullmatch("[0-9a-f]{16}", doc["searcher"]) and doc["searcher"] not in plain
               for doc in searches_logged)


def test_one_persons_searches_a_corrected_typo_or_contact_details_never_become_hot(log: TestClient, settings: Settings) -> None:
    """A visitor must not be able to put their own text on everyone's 热门搜索 and suggestions by searching it
    again and again, and a typo that found something (the vector side always does) or a query only the vector
    side answered is not advertised."""
    floor = settings.suggest_min_searches
    assert all(r["total"] > 0 for r in searched_by(log, "安全生产 请加微信", 1, times=3 * floor, mode="hybrid"))
    typo = searched_by(log, "安全生厂", floor, mode="hybrid")
    assert {r["did_you_mean"] for r in typo} == {"安全生产"} and all(r["total"] > 0 for r in typo)
    # From enough addresses a planted message is searched by "enough people": contact details never show.
    planted = searched_by(log, "港西镇 安全生产 请加微信 fake123 领补贴", floor, mode="bm25")
    assert all(r["total"] > 0 and r["did_you_mean"] is None for r in planted)
    # What only the vector side "found" (no article holds these words) is no popular query either.
    meaning = searched_by(log, "量子计算机火箭", floor, mode="hybrid")
    assert all(r["total"] > 0 and {hit["match"] for hit in r["hits"]} == {"meaning"} for r in meaning)
    # ... nor one that found only one common word of it, nor a number's digits in another number
    assert all(r["total"] > 0 for r in searched_by(log, "宇宙飞船 镇", floor, mode="hybrid"))
    searched_by(log, "量子计算机火箭2024", floor, mode="hybrid")
    flush(log)
    assert log.get("/hot").json() == {"hot": []}
    log.portal.call(log.app.state.runtime.popular.refresh)  # type: ignore[attr-defined]
    assert [item for item in suggest(log, "安全") if item["kind"] == "query"] == []


def test_click_events_are_validated(log: TestClient) -> None:
    response = log.post("/events/click", json={"query": "安全生产", "article_id": "x", "position": 0})
    assert response.status_code == 422 and response.json()["error"]["code"]
    assert log.post("/events/click", json={"query": "", "article_id": "x", "position": 1}).status_code == 422
    blank = log.post("/events/click", json={"query": " \u3000 ", "article_id": "x", "position": 1})
    assert blank.status_code == 422 and blank.json()["error"]["parameter"] == "query"


def test_analytics_needs_an_admin_token(log: TestClient) -> None:
    assert log.get("/admin/analytics").status_code == 401


def suggest(client: TestClient, q: str) -> list[dict]:
    response = client.get("/suggest", params={"q": q})
    assert response.status_code == 200, response.text
    return response.json()["suggestions"]


def test_popular_queries_are_suggested_above_the_privacy_floor_only(log: TestClient, settings: Settings) -> None:
    floor = settings.suggest_min_searches
    for q, people in (("安全生产", floor), ("安全管控", 1), ("安全生产检查", floor - 1), ("ａｑｚｚｘｑ", floor)):
        for found in searched_by(log, q, people):
            assert (found["total"] == 0) == (q == "ａｑｚｚｘｑ")  # that one found nothing
    flush(log)
    log.portal.call(log.app.state.runtime.popular.refresh)  # type: ignore[attr-defined]

    for typed in ("aq", "anquan", "安quan", "安全", "aqsc"):
        items = suggest(log, typed)
        queries = [item["text"] for item in items if item["kind"] == "query"]
        assert queries == ["安全生产"], (typed, items)  # by too few people, or nothing found: never
        assert items[0] == {"kind": "query", "text": "安全生产", "id": None, "title": None}
        assert any(item["kind"] == "title" for item in items)  # titles still follow
        assert len({item["text"] for item in items}) == len(items)
    assert [item for item in suggest(log, "shipin") if item["kind"] == "query"] == []


@pytest.fixture
def hiding(log: TestClient, es: Elasticsearch, settings: Settings) -> Iterator[TestClient]:
    """`log`, with no hidden words stored before and after."""
    with nothing_stored(es, settings.hidden_queries_index, log.app.state.runtime.hidden):  # type: ignore[attr-defined]
        yield log


def shown(client: TestClient) -> tuple[list[str], list[str]]:
    """The queries /hot lists and those suggested for 安全 (the suggestions' list re-aggregated first)."""
    client.portal.call(client.app.state.runtime.popular.refresh)  # type: ignore[attr-defined]
    return ([item["query"] for item in client.get("/hot").json()["hot"]],
            [item["text"] for item in suggest(client, "安全") if item["kind"] == "query"])


def test_an_admin_hides_a_hot_query_at_once_and_can_bring_it_back(hiding: TestClient, settings: Settings) -> None:
    floor = settings.suggest_min_searches
    searched_by(hiding, "安全生产", floor + 1)
    searched_by(hiding, "安全检查", floor)
    flush(hiding)
    assert shown(hiding) == (["安全生产", "安全检查"], ["安全生产", "安全检查"])
    stored = hiding.get("/admin/hidden-queries", headers=ADMIN).json()  # the first read stores the empty seed
    assert (stored["words"], stored["settings_words"], stored["version"]) == ([], [], 1) and stored["updated"]

    put = hiding.put("/admin/hidden-queries", headers=ADMIN, json={"words": ["生產", " 生产 "]})  # traditional
    assert put.status_code == 200 and put.json()["words"] == ["生產"] and put.json()["version"] == 2
    # No re-aggregation of the log: the lists read now leave it out, and the next query takes its place.
    assert hiding.get("/hot").json()["hot"] == [{"query": "安全检查", "count": floor}]
    assert [item["text"] for item in suggest(hiding, "安全") if item["kind"] == "query"] == ["安全检查"]
    assert hiding.get("/hot", params={"size": 1}).json()["hot"] == [{"query": "安全检查", "count": floor}]
    top = hiding.get("/admin/analytics", headers=ADMIN).json()["top_queries"]
    assert "安全生产" in [row["query"] for row in top]  # the log keeps it: admins still see it

    assert hiding.put("/admin/hidden-queries", headers=ADMIN, json={"words": []}).json()["words"] == []
    assert shown(hiding) == (["安全生产", "安全检查"], ["安全生产", "安全检查"])


@pytest.mark.parametrize(("words", "parameter"), [
    (["代办", " "], "words.1"), (["港" * 31], "words.0"), (["代办", ""], "words.1"), ("代办", "words")])
def test_a_bad_hidden_word_is_refused_and_nothing_is_stored(hiding: TestClient, words: object, parameter: str) -> None:
    assert hiding.put("/admin/hidden-queries", headers=ADMIN, json={"words": ["加微信"]}).status_code == 200
    response = hiding.put("/admin/hidden-queries", headers=ADMIN, json={"words": words})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["parameter"] == parameter
    assert hiding.get("/admin/hidden-queries", headers=ADMIN).json()["words"] == ["加微信"]


def test_hidden_queries_need_an_admin_token(hiding: TestClient) -> None:
    assert hiding.get("/admin/hidden-queries").status_code == 401
    assert hiding.put("/admin/hidden-queries", json={"words": ["x"]}).status_code == 401


def test_two_admins_editing_the_hidden_words_cannot_undo_each_other(hiding: TestClient,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    read = hiding.get("/admin/hidden-queries", headers=ADMIN).json()  # both admins read version 1
    with caplog.at_level("INFO", logger="service.audit"):
        first = hiding.put("/admin/hidden-queries", headers=ADMIN, json={"words": ["代办"], "version": read["version"]})
    assert first.status_code == 200 and first.json()["version"] == read["version"] + 1
    # The audit line says what changed, not only that a PUT was made.
    assert (f"what=PUT /admin/hidden-queries outcome=200 version={read['version']}->{read['version'] + 1} "
            "added=['代办'] removed=[]") in caplog.text
    second = hiding.put("/admin/hidden-queries", headers=ADMIN, json={"words": ["加微信"], "version": read["version"]})
    assert second.status_code == 409, second.text
    assert second.json()["error"]["code"] == "version_conflict"
    assert (second.json()["error"]["expected_version"], second.json()["error"]["current_version"]) == (
        read["version"], read["version"] + 1)
    assert hiding.get("/admin/hidden-queries", headers=ADMIN).json()["words"] == ["代办"]  # nothing overwritten
    merged = hiding.put("/admin/hidden-queries", headers=ADMIN, json={"words": ["代办", "加微信"],
                                                                      "version": first.json()["version"]})
    assert merged.status_code == 200 and merged.json()["words"] == ["代办", "加微信"]
