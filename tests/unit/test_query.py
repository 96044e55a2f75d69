"""service.query: the Elasticsearch bodies, checked as data (no node)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from govsearch.rules import normalize_doc_number
from govsearch.schema import HIT_SOURCE_FIELDS, MAX_PASSAGES, PASSAGE_SPAN_FIELDS
from service.query import (
    EXACT_QUERY_NAME,
    NEAR_CLAUSE,
    NEAR_SLOP,
    Filters,
    SearchRequest,
    article_passages_search,
    bm25_search,
    exact_search,
    knn_search,
    page_hits_search,
    related_source_search,
    related_text_search,
    related_vector_search,
    suggest_search,
)

# Query types that take text as data; anything parsing a query language is forbidden.
TEXT_QUERIES = {"match", "match_phrase", "multi_match", "term", "prefix", "match_phrase_prefix"}
QUERY_PARSERS = {"query_string", "simple_query_string"}
HOSTILE = 'title:(港西 OR 崇明) AND *:* "安全" \\ / [2022 TO 2023]'

FILTERS = Filters(publisher=("港西镇人民政府", "港沿镇人民政府"), town=("港西镇",), department=("党群办",),
                  date_from=date(2022, 1, 1), date_to=date(2022, 12, 31))


def _walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, path)
    else:
        yield path, node


def _keys(node: Any) -> set[str]:
    return {key for path, _ in _walk(node) for key in path}


def _text_places(body: dict[str, Any], q: str) -> list[str]:
    """The query type around every place the user's text (or a normalised form of it) appears."""
    forms = {q, q.lower(), normalize_doc_number(q)}
    places = []
    for path, value in _walk(body):
        if isinstance(value, str) and value in forms:
            kinds = [key for key in path if key in TEXT_QUERIES | QUERY_PARSERS]
            places.append(kinds[-1] if kinds else "/".join(path))
    return places


def _bodies(q: str, filters: Filters = FILTERS) -> dict[str, dict[str, Any]]:
    req = SearchRequest(q=q, filters=filters)
    return {
        "bm25": bm25_search(req, offset=0, limit=10, with_aggs=True, timeout=1.0),
        "bm25 candidates": bm25_search(req, offset=0, limit=100, with_aggs=False, timeout=1.0, candidates=True),
        "exact": exact_search(req, timeout=1.0),
        "page": page_hits_search(q, ["p:0123456789abcdef-0"], timeout=1.0),
        "suggest": suggest_search(q, 8, timeout=1.0),
    }


@pytest.mark.parametrize("q", [HOSTILE, "给老人装电视", "崇港委[2022]171号", "*"])
def test_the_knn_candidate_search_carries_the_vector_not_the_text(q: str) -> None:
    body = knn_search(SearchRequest(q=q, filters=FILTERS), [0.1, 0.2], k=100, articles=50, num_candidates=400,
                      min_similarity=0.1, timeout=1.0)
    assert _text_places(body, q) == [] and body["knn"]["query_vector"] == [0.1, 0.2]


@pytest.mark.parametrize("q", [HOSTILE, "给老人装电视", "崇港委[2022]171号", "*"])
def test_user_text_only_reaches_text_queries_never_a_parser(q: str) -> None:
    for name, body in _bodies(q).items():
        assert not _keys(body) & QUERY_PARSERS, name
        places = _text_places(body, q)
        assert places, f"{name}: the query text is not in the body"
        assert set(places) <= TEXT_QUERIES, (name, places)


def test_bm25_body_searches_the_text_verbatim_in_words_bigrams_and_phrases() -> None:
    places = _text_places(_bodies(HOSTILE)["bm25"], HOSTILE)
    assert places.count("multi_match") == 3
    assert places.count("match_phrase") == 2
    assert places.count("term") == 2  # the known-item clauses
    assert places.count("match") == 1  # the highlight query


def test_filters_are_identical_in_bm25_knn_and_exact_bodies() -> None:
    bodies = _bodies("港西镇")
    expected = [
        {"term": {"doc_type": "passage"}},
        {"terms": {"publisher": ["港西镇人民政府", "港沿镇人民政府"]}},
        {"terms": {"town": ["港西镇"]}},
        {"terms": {"department": ["党群办"]}},
        {"range": {"date": {"gte": "2022-01-01", "lte": "2022-12-31"}}},
    ]
    assert bodies["bm25"]["query"]["bool"]["filter"] == expected
    knn = knn_search(SearchRequest(q="港西镇", filters=FILTERS), [0.1], k=10, articles=5, num_candidates=100,
                     min_similarity=0.1, timeout=1.0)
    assert knn["knn"]["filter"] == expected
    assert bodies["exact"]["query"]["bool"]["filter"] == expected


def test_filters_without_values_keep_only_the_passage_clause_and_open_ranges() -> None:
    assert Filters().clauses() == [{"term": {"doc_type": "passage"}}]
    assert Filters(date_to=date(2023, 2, 1)).clauses()[1:] == [{"range": {"date": {"lte": "2023-02-01"}}}]
    assert Filters(date_from=date(2023, 2, 1)).clauses()[1:] == [{"range": {"date": {"gte": "2023-02-01"}}}]


def _exact_terms(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    terms = {}
    for path, value in _walk(body):
        if path[-1:] == ("_name",) and value == EXACT_QUERY_NAME:
            field = path[path.index("term") + 1]
            terms[field] = value
    clauses = {}
    for clause in body["query"]["bool"]["should"]:
        if "term" in clause:
            ((field, spec),) = clause["term"].items()
            clauses[field] = spec
    assert set(terms) == set(clauses)
    return clauses


@pytest.mark.parametrize("typed", ["崇港委[2022]171号", "崇港委〔2022〕171号", "崇港委（2022）171号", " 崇港委 [2022] 171号"])
def test_exact_clauses_use_the_normalised_document_number(typed: str) -> None:
    official = normalize_doc_number("崇港委〔2022〕171号")
    assert normalize_doc_number(typed) == official
    req = SearchRequest(q=typed)
    for body in (bm25_search(req, offset=0, limit=10, with_aggs=False, timeout=1.0), exact_search(req, timeout=1.0)):
        clauses = _exact_terms(body)
        assert clauses["doc_number"]["value"] == official
        assert clauses["title.exact"]["value"] == typed.lower()
        assert all(spec["_name"] == EXACT_QUERY_NAME and spec["boost"] >= 10 for spec in clauses.values())


def test_normalize_doc_number_distinguishes_different_numbers() -> None:
    assert normalize_doc_number("崇港委〔2022〕171号") != normalize_doc_number("崇港委〔2022〕172号")
    assert normalize_doc_number("ABC〔2022〕1号") == normalize_doc_number("abc[2022]1号")


def test_sort_by_date_is_newest_first_then_score_then_article() -> None:
    by_date = bm25_search(SearchRequest(q="港西镇", sort="date"), offset=0, limit=10, with_aggs=False, timeout=1.0)
    assert by_date["sort"] == [{"date": {"order": "desc", "missing": "_last"}}, "_score", {"article_id": "asc"}]
    by_relevance = bm25_search(SearchRequest(q="港西镇"), offset=0, limit=10, with_aggs=False, timeout=1.0)
    assert by_relevance["sort"] == ["_score", {"article_id": "asc"}]


def test_bm25_body_pages_collapses_and_carries_aggregations_on_request() -> None:
    req = SearchRequest(q="港西镇", size=10, page=3)
    body = bm25_search(req, offset=20, limit=10, with_aggs=True, timeout=1.0)
    assert (body["from"], body["size"]) == (20, 10)
    assert body["collapse"] == {"field": "article_id"}
    assert body["_source"] == list(HIT_SOURCE_FIELDS)
    assert {"articles", "facet_town", "facet_publisher", "facet_department", "facet_year"} <= set(body["aggs"])
    assert "aggs" not in bm25_search(req, offset=0, limit=50, with_aggs=False, timeout=1.0)


def test_knn_body_asks_for_at_least_k_candidates_with_the_similarity_floor_collapsed_by_article() -> None:
    req = SearchRequest(q="港西镇")
    body = knn_search(req, [0.5, 0.25], k=100, articles=50, num_candidates=400, min_similarity=0.1, timeout=1.0)
    knn = body["knn"]
    assert (knn["field"], knn["query_vector"], knn["k"], knn["num_candidates"], knn["similarity"]) == (
        "vector", [0.5, 0.25], 100, 400, 0.1)
    assert body["collapse"] == {"field": "article_id"} and body["size"] == 50  # each article's nearest passage
    assert knn_search(req, [0.5], k=500, articles=50, num_candidates=400, min_similarity=0.1,
                      timeout=1.0)["knn"]["num_candidates"] == 500
    assert "query" not in body  # the filters live inside the kNN clause, not after it


def test_suggest_search_shape() -> None:
    body = suggest_search("港西镇Party", 8, timeout=1.0)
    assert body["size"] == 8
    assert body["_source"] == ["article_id", "title"]
    assert body["collapse"] == {"field": "article_id"}
    assert body["sort"] == ["_score", {"date": {"order": "desc", "missing": "_last"}}]
    query = body["query"]["bool"]
    assert query["filter"] == [{"term": {"doc_type": "passage"}}]
    assert query["minimum_should_match"] == 1
    assert query["should"][0] == {"prefix": {"title.exact": {"value": "港西镇party", "boost": 4, "_name": "title_prefix"}}}
    assert {next(iter(clause)) for clause in query["should"]} == {"prefix", "match_phrase_prefix", "match"}


def test_article_passages_search_shape() -> None:
    body = article_passages_search("0123456789abcdef", timeout=1.0)
    assert body == {
        "timeout": "1000ms",
        "size": MAX_PASSAGES,
        "sort": [{"position": "asc"}],
        "query": {"bool": {"filter": [{"term": {"doc_type": "passage"}},
                                      {"term": {"article_id": "0123456789abcdef"}}]}},
        "_source": list(PASSAGE_SPAN_FIELDS),
    }


def test_related_bodies_exclude_the_article_and_give_one_hit_per_article() -> None:
    text = related_text_search("a1", HOSTILE, "正文" * 4000, depth=20, timeout=1.0)
    vector = related_vector_search("a1", [0.1, 0.2], depth=20, num_candidates=100, min_similarity=0.1, timeout=1.0)
    not_a1 = {"bool": {"must_not": [{"term": {"article_id": "a1"}}]}}
    assert not_a1 in text["query"]["bool"]["filter"] and not_a1 in vector["knn"]["filter"]
    for body in (text, vector):
        assert body["collapse"] == {"field": "article_id"} and body["size"] == 20
        assert not _keys(body) & QUERY_PARSERS and "timeout" in body
    like = text["query"]["bool"]["must"][0]["more_like_this"]["like"]
    assert like.startswith(HOSTILE + "\n") and len(like) < 6000  # the title, then the body's start
    assert vector["knn"]["k"] >= 20 and vector["knn"]["num_candidates"] >= vector["knn"]["k"]


def test_related_source_reads_the_article_and_its_first_passage_vector() -> None:
    body = related_source_search("a1", timeout=1.0)
    assert body["query"] == {"ids": {"values": ["a:a1", "p:a1-0"]}} and body["docvalue_fields"] == ["vector"]


def test_hybrid_candidates_carry_coverage_clauses_that_weigh_nothing() -> None:
    req = SearchRequest(q="胡塞武装 美英船只 胡塞武装")
    page = bm25_search(req, offset=0, limit=10, with_aggs=False, timeout=1.0)
    assert not any(spec.get("_name") == NEAR_CLAUSE for c in page["query"]["bool"]["should"] for spec in _specs(c))
    body = bm25_search(req, offset=0, limit=10, with_aggs=False, timeout=1.0, candidates=True)  # the ranker's
    should = body["query"]["bool"]["should"]
    named = {spec.get("_name"): spec for clause in should for spec in _specs(clause)}
    assert named["segment_0"]["query"] == "胡塞武装" and named["segment_1"]["query"] == "美英船只"
    assert "segment_2" not in named  # a repeated part is asked once
    assert named[NEAR_CLAUSE]["slop"] == NEAR_SLOP and named[NEAR_CLAUSE]["query"] == "胡塞武装 美英船只 胡塞武装"
    for name in ("segment_0", "segment_1", NEAR_CLAUSE):
        assert named[name]["boost"] == 0  # matched or not is all they tell; BM25's order is unchanged


def _specs(clause: dict[str, Any]) -> list[dict[str, Any]]:
    """The parameter objects of a leaf clause ({"multi_match": {...}} or {"match_phrase": {field: {...}}})."""
    ((kind, spec),) = clause.items()
    if kind == "multi_match":
        return [spec]
    return [v for v in spec.values() if isinstance(v, dict)]


def test_the_word_search_reads_what_the_query_asks_about_and_the_exact_title_the_query_as_typed() -> None:
    """垃圾分类怎么做: the words, pairs, phrases, coverage and marks read 垃圾分类 (怎么 asks, 做 is left alone by it);
    the exact-title clause reads the whole query, which may be a title."""
    body = bm25_search(SearchRequest(q="垃圾分类怎么做"), offset=0, limit=10, with_aggs=False, timeout=1.0,
                       candidates=True)
    texts = {value for path, value in _walk(body["query"]) if path[-1] == "query" and isinstance(value, str)}
    assert texts == {"垃圾分类"}
    exact = {value for path, value in _walk(body["query"]) if path[-1] == "value" and "title.exact" in path}
    assert exact == {"垃圾分类怎么做"}
    page = bm25_search(SearchRequest(q="高考什么时候"), offset=0, limit=10, with_aggs=False, timeout=1.0)
    assert page["highlight"]["highlight_query"] == {"match": {"text": {"query": "高考"}}}
