"""service.fusion: calibrated scores, one candidate per article, and the fused ranking."""

from __future__ import annotations

import itertools

import pytest

from service.fusion import (
    BM25_HALF,
    Candidate,
    calibrate_bm25,
    calibrate_cosine,
    fuse,
    group_by_article,
    ranked,
)
from service.query import EXACT_QUERY_NAME
from tests.unit.es_fakes import hit


def cand(article_id: str, score: float, *, exact: bool = False, tag: str = "") -> Candidate:
    return Candidate(article_id, score, {"article_id": article_id, "text": tag or article_id}, None, exact)


# ---- calibration --------------------------------------------------------------------------------

def test_calibrate_bm25_maps_half_score_to_one_half_and_keeps_order() -> None:
    assert calibrate_bm25(BM25_HALF) == pytest.approx(0.5)
    assert calibrate_bm25(60.0) == pytest.approx(0.75)
    assert calibrate_bm25(0.0) == 0.0
    assert calibrate_bm25(-3.0) == 0.0
    scores = [0.01, 1.0, 5.0, 19.9, 20.0, 100.0, 1e6]
    calibrated = [calibrate_bm25(s) for s in scores]
    assert calibrated == sorted(calibrated) and len(set(calibrated)) == len(scores)
    assert all(0.0 < c < 1.0 for c in calibrated)


@pytest.mark.parametrize("es_score, cosine", [(1.0, 1.0), (0.75, 0.5), (0.5, 0.0), (0.55, 0.1), (0.2, 0.0),
                                              (0.0, 0.0), (1.2, 1.0)])
def test_calibrate_cosine_undoes_elasticsearch_shift_and_clips(es_score: float, cosine: float) -> None:
    assert calibrate_cosine(es_score) == pytest.approx(cosine)


# ---- group_by_article ---------------------------------------------------------------------------

def test_group_by_article_keeps_the_first_passage_of_each_article_in_retriever_order() -> None:
    hits = [hit("a1", 9.0, 0, highlight="<em>安全</em>检查"), hit("a2", 7.0, 3), hit("a1", 8.0, 2, highlight="later"),
            hit("a3", None, 1), hit("a2", 1.0, 0)]
    candidates = group_by_article(hits)
    assert [c.article_id for c in candidates] == ["a1", "a2", "a3"]
    assert [c.score for c in candidates] == [9.0, 7.0, 0.0]
    assert [c.source["position"] for c in candidates] == [0, 3, 1]
    assert [c.highlight for c in candidates] == ["<em>安全</em>检查", None, None]
    assert not any(c.exact for c in candidates)


def test_group_by_article_detects_exactly_the_named_query() -> None:
    hits = [hit("a1", 5.0, exact=True), hit("a2", 4.0), hit("a3", 3.0), hit("a4", 2.0)]
    hits[2]["matched_queries"] = [EXACT_QUERY_NAME + "_title", "in" + EXACT_QUERY_NAME]
    hits[3]["matched_queries"] = []
    exact = {c.article_id: c.exact for c in group_by_article(hits, exact_query=EXACT_QUERY_NAME)}
    assert exact == {"a1": True, "a2": False, "a3": False, "a4": False}
    # Without a name to look for, nothing is a known item (the kNN side has no exact clause).
    assert not any(c.exact for c in group_by_article(hits))


def test_group_by_article_reads_named_clause_scores() -> None:
    """With `include_named_queries_score` Elasticsearch reports {name: score}: the exact flag still reads,
    and every clause's score is kept for the ranker; a list of names gives no scores."""
    hits = [hit("a1", 5.0), hit("a2", 4.0), hit("a3", 3.0)]
    hits[0]["matched_queries"] = {"words": 3.5, "text_phrase": 1.25, EXACT_QUERY_NAME: 100.0}
    hits[1]["matched_queries"] = {"bigrams_any": 0.4}
    hits[2]["matched_queries"] = ["words"]
    a1, a2, a3 = group_by_article(hits, exact_query=EXACT_QUERY_NAME)
    assert a1.exact and a1.clauses == {"words": 3.5, "text_phrase": 1.25, EXACT_QUERY_NAME: 100.0}
    assert not a2.exact and a2.clauses == {"bigrams_any": 0.4}
    assert not a3.exact and a3.clauses == {}


def test_group_by_article_exact_flag_comes_from_the_kept_passage() -> None:
    hits = [hit("a1", 5.0, 0), hit("a1", 4.0, 1, exact=True)]
    (only,) = group_by_article(hits, exact_query=EXACT_QUERY_NAME)
    assert only.source["position"] == 0 and only.exact is False


# ---- fuse ---------------------------------------------------------------------------------------

def test_normalized_fusion_is_the_weighted_mean_of_calibrated_scores() -> None:
    lists = {
        "bm25": [cand("B", 60.0), cand("A", 20.0)],  # 0.75, 0.5
        "vector": [cand("A", 0.9), cand("C", 0.7)],  # cosines 0.8, 0.4
    }
    fused = fuse(lists, method="normalized", weights={"bm25": 2.0, "vector": 1.0})
    assert [f.article_id for f in fused] == ["A", "B", "C"]
    assert [f.score for f in fused] == pytest.approx([(2 * 0.5 + 0.8) / 3, 2 * 0.75 / 3, 0.4 / 3])
    assert fused[0].ranks == {"bm25": 2, "vector": 1}
    assert fused[1].ranks == {"bm25": 1} and fused[2].ranks == {"vector": 2}


def test_rrf_fusion_is_relative_to_first_in_both_lists() -> None:
    lists = {"bm25": [cand("A", 9.0), cand("B", 8.0)], "vector": [cand("A", 0.9), cand("C", 0.8), cand("B", 0.7)]}
    fused = fuse(lists, method="rrf", weights={"bm25": 1.0, "vector": 1.0}, rrf_k=60)
    assert [f.article_id for f in fused] == ["A", "B", "C"]
    best = 2 / 61
    assert fused[0].score == pytest.approx(1.0)
    assert fused[1].score == pytest.approx((1 / 62 + 1 / 63) / best)
    assert fused[2].score == pytest.approx((1 / 62) / best)


def test_rrf_weights_change_the_order() -> None:
    lists = {"bm25": [cand("A", 9.0), cand("B", 8.0)], "vector": [cand("B", 0.9), cand("A", 0.8)]}
    assert [f.article_id for f in fuse(lists, method="rrf", weights={"bm25": 3.0, "vector": 1.0})] == ["A", "B"]
    assert [f.article_id for f in fuse(lists, method="rrf", weights={"bm25": 1.0, "vector": 3.0})] == ["B", "A"]


@pytest.mark.parametrize("method", ["normalized", "rrf"])
def test_known_items_go_first_whatever_their_score(method: str) -> None:
    lists = {"bm25": [cand("A", 80.0), cand("B", 40.0), cand("Z", 0.5, exact=True)],
             "vector": [cand("A", 0.95), cand("B", 0.9)]}
    fused = fuse(lists, method=method, weights={"bm25": 2.0, "vector": 1.0})
    assert [f.article_id for f in fused] == ["Z", "A", "B"]
    assert fused[0].exact and not fused[1].exact
    assert fused[0].score < fused[1].score  # first because it is a known item, not because of its score


@pytest.mark.parametrize("method", ["normalized", "rrf"])
def test_ties_are_broken_by_article_id_whatever_the_input_order(method: str) -> None:
    # c, a and b tie exactly: each found by one (BM25-calibrated) side only, at rank 1 with the same score.
    orders = []
    for perm in itertools.permutations(["c", "a", "b"]):
        lists = {"bm25": [cand(perm[0], 30.0)], "title": [cand(perm[1], 30.0)], "text": [cand(perm[2], 30.0)]}
        fused = fuse(lists, method=method, weights={})
        assert len({f.score for f in fused}) == 1
        orders.append([f.article_id for f in fused])
    assert all(order == ["a", "b", "c"] for order in orders), orders


def test_ties_within_one_list_are_broken_by_article_id() -> None:
    lists = {"bm25": [cand("z", 30.0), cand("m", 30.0), cand("b", 30.0), cand("top", 31.0)]}
    assert [f.article_id for f in fuse(lists, method="normalized", weights={})] == ["top", "b", "m", "z"]


@pytest.mark.parametrize("method", ["normalized", "rrf"])
def test_fused_scores_stay_in_the_unit_interval(method: str) -> None:
    lists = {"bm25": [cand("A", 1e9), cand("B", 300.0), cand("C", 0.0)],
             "vector": [cand("A", 1.0), cand("D", 1.3), cand("C", 0.1)]}
    for weights in ({"bm25": 2.0, "vector": 1.0}, {"bm25": 1.0, "vector": 5.0}, {}):
        fused = fuse(lists, method=method, weights=weights)
        assert len(fused) == 4
        assert all(0.0 <= f.score <= 1.0 for f in fused), [(f.article_id, f.score) for f in fused]


def test_the_passage_shown_comes_from_the_retriever_contributing_most() -> None:
    def shown(weights: dict[str, float]) -> str:
        lists = {"bm25": [cand("A", 20.0, tag="bm25-passage")],  # calibrated 0.5
                 "vector": [cand("A", 0.9, tag="vector-passage")]}  # cosine 0.8
        (entry,) = fuse(lists, method="normalized", weights=weights)
        return entry.candidate.source["text"]

    assert shown({"bm25": 1.0, "vector": 1.0}) == "vector-passage"  # 0.5 < 0.8: the later side wins
    assert shown({"bm25": 2.0, "vector": 1.0}) == "bm25-passage"  # 1.0 > 0.8: the earlier side keeps it
    assert shown({"bm25": 1.0, "vector": 0.5}) == "bm25-passage"


def test_rrf_shows_the_passage_of_the_better_rank() -> None:
    lists = {"bm25": [cand("X", 9.0), cand("A", 8.0, tag="bm25-passage")],
             "vector": [cand("A", 0.9, tag="vector-passage")]}
    fused = {f.article_id: f for f in fuse(lists, method="rrf", weights={"bm25": 1.0, "vector": 1.0})}
    assert fused["A"].candidate.source["text"] == "vector-passage"


# ---- ranked -------------------------------------------------------------------------------------

def test_ranked_calibrates_one_retrievers_list() -> None:
    entries = ranked([cand("A", 0.9), cand("B", 0.6)], "vector")
    assert [(e.article_id, e.ranks, e.exact) for e in entries] == [("A", {"vector": 1}, False),
                                                                  ("B", {"vector": 2}, False)]
    assert [e.score for e in entries] == pytest.approx([0.8, 0.2])
    assert [e.score for e in ranked([cand("A", 20.0)], "bm25")] == pytest.approx([0.5])


def test_ranked_puts_pinned_known_items_first_once() -> None:
    pinned = [cand("P", 42.0, exact=True)]
    candidates = [cand("A", 0.9), cand("P", 0.55), cand("B", 0.6)]
    entries = ranked(candidates, "vector", pinned)
    assert [e.article_id for e in entries] == ["P", "A", "B"]
    assert [e.exact for e in entries] == [True, False, False]
    assert entries[0].score == 1.0 and entries[0].candidate is pinned[0]
    assert [e.ranks["vector"] for e in entries] == [1, 2, 3]
    assert [e.score for e in entries[1:]] == pytest.approx([0.8, 0.2])
