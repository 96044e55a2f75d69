"""bench.perf.escost: which part of a search each body the service sends is, and its configuration syntax."""

from __future__ import annotations

from bench.perf.escost import Config, part_of
from service.query import SearchRequest, bm25_search, knn_search, known_names_search, page_hits_search
from service.spelling import phrase_count_body, suggest_body


def test_every_body_of_a_hybrid_search_is_put_in_its_part() -> None:
    req = SearchRequest(q="安全生产检查")
    assert part_of(known_names_search(timeout=1)) == "understanding"
    assert part_of(bm25_search(req, offset=0, limit=50, with_aggs=False, timeout=1, candidates=True)) == "bm25"
    assert part_of(knn_search(req, [0.1] * 4, k=100, articles=50, num_candidates=400, min_similarity=0.1, timeout=1)) == "knn"
    assert part_of(page_hits_search(req.q, ["p1", "p2"], timeout=1)) == "page"
    assert part_of(suggest_body(["安全生厂"], timeout=1)) == "typo"
    assert part_of(phrase_count_body("安全生产", timeout=1)) == "typo"


def test_a_configuration_is_a_label_and_setting_overrides() -> None:
    config = Config.parse("after, fewer candidates:KNN_NUM_CANDIDATES=200, index_alias=bench-x")
    assert config.label == "after, fewer candidates"
    assert config.overrides == {"KNN_NUM_CANDIDATES": "200", "INDEX_ALIAS": "bench-x"}
    assert Config.parse("defaults:") == Config("defaults", {})
