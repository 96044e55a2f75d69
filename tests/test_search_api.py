"""GET /search, /articles/{id}, /healthz and /readyz against the real node, the real model
and the bundled sample corpus."""

from __future__ import annotations

import html
import re

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from govsearch.rules import normalize_text
from govsearch.settings import Settings
from indexer.embeddings import Embedder
from indexer.pipeline import BuildResult
from service.fusion import group_by_article
from service.pagecache import PageCache
from service.query import CANDIDATE_DOC_VALUES, CANDIDATE_HIT, SearchRequest, bm25_search, knn_search

MODES = ["bm25", "vector", "hybrid"]


def search(client: TestClient, q: str, **params: object) -> dict:
    response = client.get("/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("mode", MODES)
def test_safety_inspection_query_finds_safety_articles_with_highlights(client: TestClient, mode: str) -> None:
    body = search(client, "安全生产检查", mode=mode)
    top = body["hits"][:3]
    assert top, body
    assert any("安全" in hit["text"] or "安全" in hit["title"] for hit in top)
    # Highlights mark the query's words, also for hits the vector side found.
    assert sum("<em>" in hit["snippet"] for hit in top) >= 2
    assert all(0.0 <= hit["score"] <= 1.0 for hit in body["hits"])


def test_response_follows_the_contract(client: TestClient) -> None:
    body = search(client, "疫情防控")
    assert set(body) >= {"query", "mode", "total", "page", "size", "took_ms", "hits", "facets"}
    assert body["mode"] == "hybrid" and body["page"] == 1 and body["size"] == 10
    assert set(body["facets"]) == {"town", "publisher", "department", "year"}
    hit = body["hits"][0]
    assert set(hit) == {"id", "title", "snippet", "title_snippet", "text", "score", "match", "publisher", "town",
                        "date", "department",
                        "section", "newsletter", "doc_number", "source", "url"}
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("title", ["港西镇召开疫情防控工作会议", "区应急局开展年度绩效考核"])
def test_an_exact_title_returns_that_article_first(client: TestClient, mode: str, title: str) -> None:
    assert search(client, title, mode=mode)["hits"][0]["title"] == title


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_a_paraphrase_with_little_word_overlap_is_found_semantically(client: TestClient, mode: str) -> None:
    hits = search(client, "禁止在河里捕鱼", mode=mode)["hits"][:3]
    assert any("禁捕" in hit["text"] or "禁捕" in hit["title"] for hit in hits), [h["title"] for h in hits]


def test_bm25_facets_count_articles_and_filters_narrow_consistently(client: TestClient) -> None:
    everything = search(client, "工作", mode="bm25", size=50)
    towns = {hit["town"] for hit in everything["hits"] if hit["town"]}
    assert len(towns) >= 2
    publisher = everything["facets"]["publisher"][0]
    narrowed = search(client, "工作", mode="bm25", size=50, publisher=publisher["value"])
    assert narrowed["total"] == publisher["count"] < everything["total"]
    assert {hit["publisher"] for hit in narrowed["hits"]} == {publisher["value"]}
    assert sum(b["count"] for b in narrowed["facets"]["publisher"]) == narrowed["total"]
    # A portal form's empty field means "any": the same answer as no filter at all.
    blank = search(client, "工作", mode="bm25", size=50, publisher="", town=" ")
    assert blank["total"] == everything["total"]


@pytest.mark.parametrize("mode", MODES)
def test_town_and_date_filters_change_total_and_facets(client: TestClient, mode: str) -> None:
    base = search(client, "工作", mode=mode, size=50)
    town = next(hit["town"] for hit in base["hits"] if hit["town"])
    by_town = search(client, "工作", mode=mode, size=50, town=town)
    assert 0 < by_town["total"] < base["total"]
    assert {hit["town"] for hit in by_town["hits"]} == {town}
    dated = [hit["date"] for hit in base["hits"] if hit["date"]]
    day = min(dated)
    by_date = search(client, "工作", mode=mode, size=50, date_from=day, date_to=day)
    assert 0 < by_date["total"] < base["total"]
    assert {hit["date"] for hit in by_date["hits"]} == {day}
    years = {bucket["value"] for bucket in by_date["facets"]["year"]}
    assert years == {int(day[:4])}


@pytest.mark.parametrize("mode", MODES)
def test_page_two_continues_page_one(client: TestClient, mode: str) -> None:
    first = search(client, "工作", mode=mode, size=5, page=1)
    second = search(client, "工作", mode=mode, size=5, page=2)
    assert first["total"] == second["total"] > 5
    assert not {h["id"] for h in first["hits"]} & {h["id"] for h in second["hits"]}
    both = search(client, "工作", mode=mode, size=10, page=1)
    assert [h["id"] for h in both["hits"]] == [h["id"] for h in first["hits"] + second["hits"]]


def test_sort_by_date_puts_newest_first(client: TestClient) -> None:
    dates = [h["date"] for h in search(client, "工作", sort="date", size=30)["hits"] if h["date"]]
    assert dates == sorted(dates, reverse=True)


def test_article_view_returns_the_whole_article_with_its_passages(client: TestClient) -> None:
    hit = search(client, "港西镇召开疫情防控工作会议")["hits"][0]
    response = client.get(f"/articles/{hit['id']}")
    assert response.status_code == 200
    article = response.json()
    assert article["title"] == hit["title"]
    assert article["passages"] and [p["position"] for p in article["passages"]] == \
        list(range(len(article["passages"])))
    for passage in article["passages"]:
        assert article["body"][passage["char_start"]:passage["char_end"]] == passage["text"]


def test_with_the_search_the_article_says_what_to_mark_as_the_search_read_it(seeded_rules: TestClient) -> None:
    client = seeded_rules
    hit = search(client, "港西镇召开疫情防控工作会议")["hits"][0]
    article = client.get(f"/articles/{hit['id']}").json()
    assert article["marks"] == []
    marks = client.get(f"/articles/{hit['id']}", params={"q": "　疫情防控 違建 "}).json()["marks"]
    assert "疫情防控" in marks  # simplified, read as the search reads it; 疫情 + 防控 marked as one
    assert all(mark in article["title"] or mark in article["body"] for mark in marks), marks
    assert marks == sorted(marks, key=len, reverse=True) and len(set(marks)) == len(marks)
    assert client.get(f"/articles/{hit['id']}", params={"q": "疫情防控 违建"}).json()["marks"] == marks
    assert client.get(f"/articles/{hit['id']}", params={"q": "  "}).status_code == 422
    # The official terms of a synonym rule (违建 => 违章建筑, 私搭乱建) are marked where the article has them.
    building = search(client, "私搭乱建 高铁沿线")["hits"][0]
    assert "私搭乱建" in client.get(f"/articles/{building['id']}", params={"q": "违建"}).json()["marks"]


@pytest.mark.parametrize(("mode", "q"), [
    (mode, q) for mode in ("bm25", "hybrid") for q in ("怎么申请低保", "垃圾分类怎么做", "王卫中讲话", "扫黑除恶", "违建拆除")
    if (mode, q) != ("bm25", "怎么申请低保")  # no word match: see the test below
])
def test_snippets_and_the_article_view_mark_words_not_stray_characters(seeded_rules: TestClient, q: str,
                                                                        mode: str) -> None:
    """smartcn splits a word it does not know into characters; each was once marked wherever it stood (保 in
    包保, 中 in 报告中, 扫 in 扫码, 做 anywhere)."""
    hits = search(seeded_rules, q, mode=mode)["hits"]
    assert hits
    for hit in hits:
        assert all(len(html.unescape(text)) > 1 for text in re.findall("<em>(.*?)</em>", hit["snippet"])), hit
        marks = seeded_rules.get(f"/articles/{hit['id']}", params={"q": q}).json()["marks"]
        assert all(len(mark) > 1 for mark in marks), (hit["id"], marks)


@pytest.mark.parametrize("q", ["垃圾分类怎么做", "请问垃圾分类相关新闻"])
@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_question_lists_first_what_its_subject_lists(client: TestClient, mode: str, q: str) -> None:
    """Asking and framing words (怎么, 是什么, 请问, 相关新闻 …) say nothing about what is asked for: 垃圾分类怎么做 and
    请问垃圾分类相关新闻 list first the articles 垃圾分类 lists in the same mode — bm25 all of them, in its order; hybrid,
    whose vector side reads the question as typed, its first three (it put 泗湖山镇11月份重点工作, which says 做 and 垃圾
    but not 垃圾分类, first) — and 怎么申请低保 matches no word where no article says 申请 or 低保 (its 怎么 matched alone
    before)."""
    subject = [h["id"] for h in search(client, "垃圾分类", mode=mode)["hits"]]
    asked = [h["id"] for h in search(client, q, mode=mode)["hits"]]
    assert len(subject) >= 3
    if mode == "bm25":
        assert asked[:len(subject)] == subject
    else:
        assert set(asked[:3]) == set(subject[:3])
    assert search(client, "怎么申请低保", mode="bm25")["total"] == 0


def test_a_one_character_part_of_the_query_is_marked(client: TestClient) -> None:
    hits = search(client, "港西镇 镇", mode="bm25")["hits"]
    assert any("<em>镇</em>" in hit["snippet"] for hit in hits)


def test_an_unknown_article_is_a_json_404(client: TestClient) -> None:
    response = client.get("/articles/no-such-article")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def related(client: TestClient, article_id: str, **params: object) -> list[dict]:
    response = client.get(f"/articles/{article_id}/related", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == article_id
    return response.json()["related"]


def test_related_articles_are_other_articles_like_it(client: TestClient) -> None:
    hit = search(client, "港西镇召开疫情防控和安全生产工作会议")["hits"][0]
    assert hit["title"] == "港西镇召开疫情防控和安全生产工作会议"
    items = related(client, hit["id"], size=5)
    ids = [item["id"] for item in items]
    assert 0 < len(items) <= 5 and hit["id"] not in ids and len(set(ids)) == len(ids)
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    # The same town's other epidemic-control meeting and the safety inspection are its neighbours.
    titles = [item["title"] for item in items]
    assert titles[0] == "港西镇召开疫情防控工作会议", titles
    assert "泖港镇开展重点企业安全大检查" in titles, titles
    for item in items:  # every entry is a real article, with its metadata
        article = client.get(f"/articles/{item['id']}").json()
        assert article["title"] == item["title"] and article["date"] == item["date"]


def test_related_size_bounds_the_list_and_is_validated(client: TestClient) -> None:
    hit = search(client, "工作")["hits"][0]
    assert len(related(client, hit["id"], size=1)) == 1
    many = related(client, hit["id"], size=20)
    assert 5 < len(many) <= 20 and hit["id"] not in {item["id"] for item in many}
    assert [item["id"] for item in related(client, hit["id"])] == [item["id"] for item in many[:5]]
    for size in (0, 21, "x"):
        response = client.get(f"/articles/{hit['id']}/related", params={"size": size})
        assert response.status_code == 422 and response.json()["error"]["parameter"] == "size"


def test_related_of_an_unknown_article_is_a_json_404(client: TestClient) -> None:
    response = client.get("/articles/no-such-article/related")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("params, parameter", [
    ({"q": ""}, "q"),
    ({"q": "   "}, "q"),
    ({"q": "a" * 10_000}, "q"),
    ({"q": "安全", "size": 0}, "size"),
    ({"q": "安全", "size": 1000}, "size"),
    ({"q": "安全", "page": -1}, "page"),
    ({"q": "安全", "page": 100000}, "page"),
    ({"q": "安全", "date_from": "2023-13-45"}, "date_from"),
    ({"q": "安全", "date_from": "0"}, "date_from"),  # not a Unix time
    ({"q": "安全", "date_to": "2023-01-01T00:00:00"}, "date_to"),
    ({"q": "安全", "mode": "xyz"}, "mode"),
    ({"q": "安全", "sort": "price"}, "sort"),
    ({"q": "\x00\x00"}, "q"),
    ({}, "q"),
])
def test_bad_parameters_are_a_422_naming_the_parameter(client: TestClient, params: dict, parameter: str) -> None:
    response = client.get("/search", params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter"
    assert error["parameter"] == parameter
    assert parameter in error["message"]


@pytest.mark.parametrize("q", ["*:*", "title:(a OR b)", '{"query":1}', '\\" OR 1=1 --', "安全🚒检查", "安全\x00生产",
                               "港西镇 AND NOT", "(((", "a" * 200, "😀🚒", "。，！？"])
@pytest.mark.parametrize("mode", MODES)
def test_query_syntax_is_searched_as_text_never_interpreted(client: TestClient, q: str, mode: str) -> None:
    response = client.get("/search", params={"q": q, "mode": mode})
    assert response.status_code == 200, response.text
    body = response.json()
    if q in ("*:*", "(((", "😀🚒", "。，！？"):  # no words in it: nothing matches, certainly not everything,
        assert body["total"] == 0 and not body["degraded"]  # nor the vector side's nearest articles to noise


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_cors_allows_configured_origins_only(client: TestClient) -> None:
    allowed = client.get("/search", params={"q": "安全"}, headers={"Origin": "http://portal.example"})
    assert allowed.headers.get("access-control-allow-origin") == "http://portal.example"
    denied = client.get("/search", params={"q": "安全"}, headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in denied.headers


def test_openapi_documents_the_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    params = {p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert params >= {"q", "mode", "size", "page", "publisher", "town", "department", "date_from", "date_to", "sort"}
    assert "/articles/{article_id}" in spec["paths"]
    assert "/articles/{article_id}/related" in spec["paths"]


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_a_repeated_page_is_answered_from_the_page_cache_unchanged(client: TestClient, mode: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The second time, the page's passages come from `service.pagecache` (no page fetch is sent), and the
    answer is the one a fresh page fetch gives: the same JSON but `took_ms`, before and after the cache is
    emptied."""
    searcher = client.app.state.runtime.searcher  # type: ignore[attr-defined]
    sent: list[list[dict]] = []
    msearch = searcher.backend.msearch

    async def spy(index: str, bodies: list[dict]) -> list[dict]:
        sent.append(list(bodies))
        return await msearch(index, bodies)

    monkeypatch.setattr(searcher.backend, "msearch", spy)
    monkeypatch.setattr(searcher, "page_cache", PageCache(100))

    def answer() -> dict:
        body = search(client, "港西镇 疫情防控 工作", mode=mode)
        body.pop("took_ms")
        return body

    def page_fetches() -> int:
        return sum("ids" in body.get("query", {}) for bodies in sent for body in bodies)

    fresh = answer()
    assert fresh["hits"] and page_fetches() == 1
    assert answer() == fresh
    assert page_fetches() == 1  # every passage of the page was kept: one round trip
    monkeypatch.setattr(searcher, "page_cache", PageCache(100))
    assert answer() == fresh
    assert page_fetches() == 2


@pytest.mark.parametrize("q", ["安全生产检查", "禁止在河里捕鱼", "港西镇召开疫情防控工作会议", "哪里可以免费义诊？"])
def test_candidate_hits_read_from_doc_values_equal_the_same_hits_read_from_source(
        es: Elasticsearch, embedder: Embedder, settings: Settings, sample_index: BuildResult, q: str) -> None:
    # The candidate searches read doc values only (CANDIDATE_HIT); asked for the same fields from `_source`,
    # the node must answer the same candidates: ids, order, versions, clause scores and every field
    # (the title lower-cased, as the `exact` keyword keeps it).
    req = SearchRequest(q=normalize_text(q))
    vector = embedder.embed_query(req.q).tolist()
    bodies = [bm25_search(req, offset=0, limit=50, with_aggs=False, candidates=True, timeout=5.0),
              knn_search(req, vector, k=100, articles=50, num_candidates=400, min_similarity=0.0, timeout=5.0)]
    found = 0
    for body in bodies:
        assert body["stored_fields"] == "_none_"
        from_source = {key: value for key, value in body.items() if key not in CANDIDATE_HIT}
        from_source["_source"] = list(CANDIDATE_DOC_VALUES.values())
        lean, whole = (group_by_article(es.search(index=settings.index_alias, body=b,
                                                  include_named_queries_score=True)["hits"]["hits"])
                       for b in (body, from_source))
        found += len(lean)
        assert [(c.article_id, c.doc_id, c.version, c.clauses, c.score) for c in lean] == \
            [(c.article_id, c.doc_id, c.version, c.clauses, c.score) for c in whole]
        for a, b in zip(lean, whole):
            expected = {name: value for name, value in b.source.items() if value is not None}
            expected["title"] = expected["title"].lower()
            assert a.source == expected
    assert found, q


@pytest.mark.parametrize("q", ["安全生产检查", "哪里可以免费义诊？", "给老人装电视"])
def test_knn_candidates_collapsed_by_the_node_are_each_article_s_nearest_passage(
        es: Elasticsearch, embedder: Embedder, settings: Settings, sample_index: BuildResult, q: str) -> None:
    # The kNN body collapses its k nearest passages by article on the node: the same candidates, in the same
    # order, as grouping all k passages here and keeping the first `articles` (what the service did before).
    req = SearchRequest(q=normalize_text(q))
    body = knn_search(req, embedder.embed_query(req.q).tolist(), k=40, articles=8, num_candidates=400,
                      min_similarity=0.0, timeout=5.0)
    every = {key: value for key, value in body.items() if key != "collapse"}
    every["size"] = body["knn"]["k"]
    collapsed, grouped = (group_by_article(es.search(index=settings.index_alias, body=b)["hits"]["hits"])
                          for b in (body, every))
    assert len(collapsed) == 8
    assert [(c.article_id, c.doc_id, c.score, c.version) for c in collapsed] == \
        [(c.article_id, c.doc_id, c.score, c.version) for c in grouped[:8]]
