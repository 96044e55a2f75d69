"""The relevance benchmark's metric functions and judged-set handling (no Elasticsearch needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.relevance import judged
from bench.relevance.metrics import dcg, first_relevant_rank, gain, mean, ndcg_at_k, recall_at_k, reciprocal_rank
from govsearch.paths import PROJECT_ROOT

GRADES = {"a": 3, "b": 2, "c": 1}


def test_gain_is_exponential_in_the_grade() -> None:
    assert [gain(g) for g in (0, 1, 2, 3)] == [0.0, 1.0, 3.0, 7.0]


def test_dcg_discounts_by_log2_of_rank_plus_one() -> None:
    assert dcg([3, 2, 0, 1]) == pytest.approx(7 / 1 + 3 / math.log2(3) + 0 + 1 / math.log2(5))
    assert dcg([]) == 0.0


def test_ndcg_is_one_for_the_ideal_ranking_and_zero_for_nothing_relevant() -> None:
    assert ndcg_at_k(["a", "b", "c"], GRADES) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "x", "b", "y", "c"], GRADES) < 1.0
    assert ndcg_at_k(["x", "y", "z"], GRADES) == 0.0
    assert ndcg_at_k([], GRADES) == 0.0


def test_ndcg_by_hand() -> None:
    ranking = ["b", "x", "a"]
    expected = (3 / math.log2(2) + 7 / math.log2(4)) / (7 + 3 / math.log2(3) + 1 / math.log2(4))
    assert ndcg_at_k(ranking, GRADES) == pytest.approx(expected)


def test_ndcg_ideal_counts_judged_articles_that_were_never_returned() -> None:
    # Only 'a' returned, at rank 1: the ideal still has b and c, so the score is below 1.
    assert ndcg_at_k(["a"], GRADES) == pytest.approx(7 / (7 + 3 / math.log2(3) + 1 / math.log2(4)))


def test_ndcg_cuts_at_k_on_both_sides() -> None:
    ranking = ["y", "a"]
    assert ndcg_at_k(ranking, {"a": 3}, k=1) == 0.0
    assert ndcg_at_k(ranking, {"a": 3}, k=2) == pytest.approx(1 / math.log2(3))
    # With k=1 the ideal is only the best article.
    assert ndcg_at_k(["a"], GRADES, k=1) == pytest.approx(1.0)


def test_a_repeated_article_earns_its_gain_once_and_still_takes_a_slot() -> None:
    assert ndcg_at_k(["a", "a", "a"], {"a": 3, "b": 3}) == ndcg_at_k(["a"], {"a": 3, "b": 3})
    assert ndcg_at_k(["a", "a", "b"], {"a": 3, "b": 3}) == ndcg_at_k(["a", "x", "b"], {"a": 3, "b": 3})
    assert recall_at_k(["a", "a"], {"a": 1, "b": 1}) == 0.5
    assert recall_at_k(["a", "a", "b"], {"a": 1, "b": 1}, k=2) == 0.5


def test_recall_counts_relevant_articles_in_the_top_k() -> None:
    assert recall_at_k(["a", "x", "c"], GRADES) == pytest.approx(2 / 3)
    assert recall_at_k(["x"] * 10 + ["a"], GRADES, k=10) == 0.0
    assert recall_at_k(["a", "x", "c"], GRADES, min_grade=2) == pytest.approx(1 / 2)


def test_reciprocal_rank_is_the_first_relevant_within_k() -> None:
    assert reciprocal_rank(["x", "y", "c"], GRADES) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x", "y", "c"], GRADES, min_grade=2) == 0.0
    assert reciprocal_rank(["x", "y", "a"], GRADES, k=2) == 0.0
    assert reciprocal_rank(["a"], GRADES) == 1.0
    assert first_relevant_rank(["x", "y", "c"], GRADES) == 3
    assert first_relevant_rank(["x"], GRADES) is None


def test_unjudged_articles_count_as_zero_and_grade_zero_is_not_relevant() -> None:
    assert ndcg_at_k(["z"], {"a": 3, "z": 0}) == 0.0
    assert reciprocal_rank(["z", "a"], {"a": 3, "z": 0}) == 0.5


@pytest.mark.parametrize("metric", [ndcg_at_k, recall_at_k, reciprocal_rank])
def test_a_query_without_relevant_articles_or_a_bad_k_is_an_error(metric) -> None:
    with pytest.raises(ValueError):
        metric(["a"], {})
    with pytest.raises(ValueError):
        metric(["a"], {"a": 0})
    with pytest.raises(ValueError):
        metric(["a"], {"a": 1}, k=0)


def test_mean_of_nothing_is_nan() -> None:
    assert math.isnan(mean([]))
    assert mean([1.0, 0.0]) == 0.5


# --- the judged set -------------------------------------------------------

def _write(tmp_path: Path, queries: list[dict]) -> Path:
    path = tmp_path / "queries.json"
    path.write_text(json.dumps({"queries": queries}, ensure_ascii=False), encoding="utf-8")
    return path


def _query(**overrides) -> dict:
    base = {"id": "q1", "query": "安全", "kind": "exact",
            "judgments": [{"article_id": "id-a", "title": "标题甲", "grade": 3}]}
    return {**base, **overrides}


def test_the_bundled_judged_set_is_large_varied_and_resolves_against_the_sample(monkeypatch) -> None:
    queries = judged.load()
    assert len(queries) >= 60
    kinds = {kind: sum(q.kind == kind for q in queries) for kind in judged.KINDS}
    assert all(n >= 10 for n in kinds.values()), kinds
    assert sum(q.citizen for q in queries) >= 10
    monkeypatch.chdir(PROJECT_ROOT)  # the indexer's ids hash the source path as `make run` spells it
    resolved, warnings = judged.resolve(queries, judged.Corpus.from_sources([Path("data/sample")]))
    assert len(resolved) == len(queries)
    assert not warnings, warnings[:3]


def test_a_stale_id_is_resolved_by_title_and_an_unknown_one_fails_loudly(tmp_path: Path) -> None:
    corpus = judged.Corpus({"id-new": "标题甲", "id-b": "标题乙"})
    queries = judged.load(_write(tmp_path, [_query()]))
    resolved, warnings = judged.resolve(queries, corpus)
    assert resolved[0].grades == {"id-new": 3}
    assert queries[0].grades == {"id-a": 3}  # the input is left alone
    assert warnings and "resolved by title" in warnings[0]

    missing_id = _query(judgments=[{"title": "标题乙", "grade": 2}])
    assert judged.resolve(judged.load(_write(tmp_path, [missing_id])), corpus)[0][0].grades == {"id-b": 2}

    lost = _query(judgments=[{"article_id": "gone", "title": "没有这篇", "grade": 3}])
    with pytest.raises(judged.JudgedSetError, match="没有这篇"):
        judged.resolve(judged.load(_write(tmp_path, [lost])), corpus)


def test_an_ambiguous_title_does_not_resolve(tmp_path: Path) -> None:
    corpus = judged.Corpus({"x1": "同名", "x2": "同名"})
    query = _query(judgments=[{"article_id": "gone", "title": "同名", "grade": 3}])
    with pytest.raises(judged.JudgedSetError, match="2 articles have that title"):
        judged.resolve(judged.load(_write(tmp_path, [query])), corpus)


@pytest.mark.parametrize("bad, message", [
    ({"kind": "fuzzy"}, "kind"),
    ({"query": "  "}, "empty"),
    ({"judgments": []}, "at least one"),
    ({"judgments": [{"article_id": "a", "title": "t", "grade": 4}]}, "grades"),
    ({"judgments": [{"article_id": "a", "title": "t", "grade": 0}]}, "at least one"),
    ({"judgments": [{"article_id": "a", "title": "t", "grade": 3}, {"article_id": "a", "title": "t", "grade": 1}]},
     "twice"),
    ({"judgments": [{"article_id": "a", "title": "t"}]}, "malformed"),
])
def test_malformed_judged_sets_are_rejected(tmp_path: Path, bad: dict, message: str) -> None:
    with pytest.raises(judged.JudgedSetError, match=message):
        judged.load(_write(tmp_path, [_query(**bad)]))


def test_duplicate_query_ids_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(judged.JudgedSetError, match="duplicate"):
        judged.load(_write(tmp_path, [_query(), _query()]))
