"""The ranking stage without Elasticsearch: feature rows, the vector-only tail rule, loading the learned
ranker (and refusing a missing, corrupt or mismatched file), and the `ranking` every response reports."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.relevance import train
from govsearch.settings import Settings
from service import features, ranking
from service.fusion import Candidate, Fused
from service.query import MAX_COVERAGE_SEGMENTS, SEGMENT_CLAUSE, SearchRequest, coverage_segments
from service.search import Searcher
from tests.unit.es_fakes import FakeEmbedder
from tests.unit.test_lean_search import SETTINGS, FakeBackend

DEPTH = 50


def _candidate(article_id: str, score: float, title: str, clauses: dict[str, float] | None = None,
               **source: object) -> Candidate:
    return Candidate(article_id, score, {"article_id": article_id, "title": title, **source}, None,
                     clauses=clauses or {})


def _lists() -> dict[str, list[Candidate]]:
    return {
        "bm25": [_candidate("a", 40.0, "港西镇开展安全生产检查", {"words": 20.0, "bigrams": 12.0, "title_phrase": 8.0},
                            position=0, passage_count=3),
                 _candidate("b", 10.0, "泖港镇召开会议", {"words": 5.0, "bigrams": 4.0, "bigrams_any": 1.0},
                            position=2, passage_count=5)],
        # Elasticsearch's kNN score is (1 + cos) / 2.
        "vector": [_candidate("c", (1 + 0.5) / 2, "企业隐患排查整改"), _candidate("a", (1 + 0.4) / 2, "港西镇开展安全生产检查"),
                   *[_candidate(f"v{i}", (1 + 0.12) / 2, f"无关新闻{i}") for i in range(12)]],
    }


def _fused(lists: dict[str, list[Candidate]]) -> list[Fused]:
    entries: dict[str, Fused] = {}
    for name, candidates in lists.items():
        for rank, c in enumerate(candidates, start=1):
            entry = entries.setdefault(c.article_id, Fused(c.article_id, 0.0, c))
            entry.ranks[name] = rank
    return list(entries.values())


# ---- features -------------------------------------------------------------------------------------

def test_rows_have_one_finite_value_per_feature() -> None:
    lists = _lists()
    rows = features.rows("安全生产检查", _fused(lists), lists, DEPTH)
    assert len(rows) == 2 + 1 + 12
    for row in rows:
        assert len(row) == len(features.FEATURES)
        assert all(math.isfinite(v) for v in row)


def test_rows_describe_each_side_and_the_title() -> None:
    lists = _lists()
    by_id = dict(zip([e.article_id for e in _fused(lists)], features.rows("安全生产检查", _fused(lists), lists, DEPTH)))
    f = {name: i for i, name in enumerate(features.FEATURES)}
    a, b, c = by_id["a"], by_id["b"], by_id["c"]
    assert a[f["bm25_score"]] == 40.0 and a[f["bm25_rank"]] == 1 and a[f["bm25_ratio_to_best"]] == 1.0
    assert a[f["cosine"]] == pytest.approx(0.4) and a[f["vector_rank"]] == 2 and a[f["in_both"]] == 1
    assert a[f["query_in_title"]] == 1 and a[f["title_bigram_cover"]] == 1 and a[f["title_segment_cover"]] == 1
    assert a[f["passage_count"]] == 3 and a[f["passage_position"]] == 0
    assert a[f["bm25_reciprocal_rank"]] == 1 and a[f["vector_reciprocal_rank"]] == 0.5
    assert b[f["bm25_reciprocal_rank"]] == 0.5 and b[f["vector_reciprocal_rank"]] == 0
    # Each named BM25 clause: its score on the best passage, and its share of the query's best for that clause.
    assert a[f["clause_words"]] == 20 and a[f["clause_words_ratio"]] == 1
    assert b[f["clause_words"]] == 5 and b[f["clause_words_ratio"]] == 0.25
    assert a[f["clause_title_phrase"]] == 8 and b[f["clause_title_phrase"]] == 0 and b[f["clause_title_phrase_ratio"]] == 0
    assert a[f["clause_bigrams_any"]] == 0 and b[f["clause_bigrams_any_ratio"]] == 1
    assert c[f["clause_words"]] == 0 and c[f["clause_bigrams_ratio"]] == 0  # vector-only: no clause matched
    # Found by one side only: the other side's values are "absent", not guessed.
    assert b[f["cosine"]] == 0 and b[f["vector_rank"]] == DEPTH + 1 and b[f["in_vector"]] == 0
    assert c[f["bm25_score"]] == 0 and c[f["bm25_rank"]] == DEPTH + 1 and c[f["in_bm25"]] == 0
    assert c[f["cosine_gap_to_best"]] == pytest.approx(0.0)
    assert b[f["title_bigram_cover"]] == 0 and b[f["query_in_title"]] == 0
    # The fusion prior is the default fusion's 2:1 mean; query-level values are the same on every row.
    assert a[f["fused_prior"]] == pytest.approx((2 * 40 / 60 + 0.4) / 3)
    for row in (a, b, c):
        assert row[f["query_best_bm25"]] == pytest.approx(40 / 60)
        assert row[f["query_best_cosine"]] == pytest.approx(0.5) and row[f["query_bm25_candidates"]] == 2


def test_coverage_features_count_the_query_parts_each_passage_holds() -> None:
    # "胡塞武装 美英 船只": a holds all three parts and every word close together, b two, c (vector-only) none.
    lists = {
        "bm25": [_candidate("a", 30.0, "甲", {"words": 9.0, "segment_0": 0.0, "segment_1": 0.0, "segment_2": 0.0,
                                             "near": 0.0}),
                 _candidate("b", 35.0, "乙", {"words": 12.0, "segment_0": 0.0, "segment_2": 0.0})],
        "vector": [_candidate("c", (1 + 0.6) / 2, "丙")],
    }
    by_id = dict(zip([e.article_id for e in _fused(lists)],
                     features.rows("胡塞武装 美英 船只", _fused(lists), lists, DEPTH)))
    f = {name: i for i, name in enumerate(features.FEATURES)}
    a, b, c = by_id["a"], by_id["b"], by_id["c"]
    assert a[f["segment_cover"]] == 1 and a[f["segments_missing"]] == 0 and a[f["segment_cover_gap"]] == 0
    assert b[f["segment_cover"]] == pytest.approx(2 / 3) and b[f["segments_missing"]] == 1
    assert b[f["segment_cover_gap"]] == pytest.approx(1 / 3)
    assert c[f["segment_cover"]] == 0 and c[f["segments_missing"]] == 3 and c[f["segment_cover_gap"]] == 1
    assert a[f["near"]] == 1 and b[f["near"]] == 0 and c[f["near"]] == 0
    for row in (a, b, c):  # one candidate holds every part: the query tells it apart
        assert row[f["query_full_cover_candidates"]] == 1


def test_rival_features_compare_a_candidate_with_the_best_under_its_title() -> None:
    # a and b: one recurring title (punctuation aside); a holds both parts, b one; c stands alone.
    lists = {
        "bm25": [_candidate("b", 30.0, "习近平会见外宾", {"segment_0": 0.0}),
                 _candidate("a", 20.0, "习近平会见外宾。", {"segment_0": 0.0, "segment_1": 0.0}),
                 _candidate("c", 10.0, "国务院常务会议", {"segment_1": 0.0})],
        "vector": [_candidate("a", (1 + 0.5) / 2, "习近平会见外宾。"), _candidate("c", (1 + 0.3) / 2, "国务院常务会议")],
    }
    by_id = dict(zip([e.article_id for e in _fused(lists)], features.rows("会见 总统", _fused(lists), lists, DEPTH)))
    f = {name: i for i, name in enumerate(features.FEATURES)}
    a, b, c = by_id["a"], by_id["b"], by_id["c"]
    assert a[f["title_rivals"]] == b[f["title_rivals"]] == 1 and c[f["title_rivals"]] == 0
    assert a[f["rival_cover_gap"]] == 0 and b[f["rival_cover_gap"]] == pytest.approx(1 / 2)
    assert a[f["rival_bm25_ratio"]] == pytest.approx(20 / 30) and b[f["rival_bm25_ratio"]] == 1
    assert a[f["rival_cosine_gap"]] == 0 and b[f["rival_cosine_gap"]] == pytest.approx(0.5)
    assert c[f["rival_cover_gap"]] == 0 and c[f["rival_bm25_ratio"]] == 1 and c[f["rival_cosine_gap"]] == 0


def test_coverage_ignores_parts_beyond_the_clauses_and_repeats() -> None:
    parts = [f"词{i}" for i in range(MAX_COVERAGE_SEGMENTS + 3)]
    assert coverage_segments(" ".join(["词0", *parts, "词1"])) == parts[:MAX_COVERAGE_SEGMENTS]
    clauses = {SEGMENT_CLAUSE.format(i): 0.0 for i in range(MAX_COVERAGE_SEGMENTS + 3)}
    assert features.segment_cover(clauses, len(coverage_segments(" ".join(parts)))) == MAX_COVERAGE_SEGMENTS


@pytest.mark.parametrize(("q", "question", "doc_number", "segments"), [
    ("哪里可以免费义诊？", 1, 0, 1),
    ("低保啥时候发", 1, 0, 1),  # rules.ASKING's words, the colloquial 啥 among them
    ("医保能不能报销", 1, 0, 1),
    ("崇港委〔2022〕171号", 0, 1, 3),
    ("安全生产 检查", 0, 0, 2),
])
def test_query_shape(q: str, question: int, doc_number: int, segments: int) -> None:
    row = features.QueryShape.of(q).row()
    assert row[1:] == [segments, question, doc_number]


# ---- the vector-only tail -------------------------------------------------------------------------

def test_weak_vector_only_hits_are_dropped_strong_and_top_ranked_ones_kept() -> None:
    lists = _lists()
    kept = ranking.plausible("安全生产检查", _fused(lists), lists, min_similarity=0.3, top_rank=10)
    ids = [e.article_id for e in kept]
    assert ids[:3] == ["a", "b", "c"]  # BM25 matches, and a strong vector-only hit
    assert ids[3:] == [f"v{i}" for i in range(8)]  # vector ranks 3..10 kept, 11.. dropped (cos 0.12)
    assert [e.article_id for e in ranking.plausible("安全生产检查", _fused(lists), lists, min_similarity=0.45, top_rank=0)] == \
        ["a", "b", "c"]
    assert [e.article_id for e in ranking.plausible("安全生产检查", _fused(lists), lists, min_similarity=0.6, top_rank=0)] == \
        ["a", "b"]


def test_a_query_some_article_holds_whole_keeps_only_strong_vector_only_hits() -> None:
    lists = _lists()
    whole = {**lists, "bm25": [replace(lists["bm25"][0], clauses={**lists["bm25"][0].clauses,
                                                                   SEGMENT_CLAUSE.format(0): 0.0})] + lists["bm25"][1:]}
    # 安全生产检查 stands in "a" as typed: the vector side's top ranks are no longer a pass, its cosine is
    assert [e.article_id for e in ranking.plausible("安全生产检查", _fused(whole), whole, min_similarity=0.3,
                                                   top_rank=10)] == ["a", "b", "c"]
    # two parts, one held: the top ranks count again
    assert len(ranking.plausible("安全生产检查 港西镇", _fused(whole), whole, min_similarity=0.3, top_rank=10)) == 11


# ---- loading the model ----------------------------------------------------------------------------

def _train_tiny_model(path: Path, name: str = "learned-test") -> Path:
    """A real LightGBM ranker on synthetic groups where the title bigram cover decides relevance."""
    import lightgbm
    import numpy as np

    rng = np.random.default_rng(7)
    x = rng.random((400, len(features.FEATURES)))
    cover = features.FEATURES.index("title_bigram_cover")
    y = (x[:, cover] > 0.7).astype(int)
    model = lightgbm.LGBMRanker(n_estimators=20, num_leaves=4, min_child_samples=5, random_state=1, verbose=-1)
    model.fit(x, y, group=[20] * 20)
    path.write_text(json.dumps(ranking.model_document(name, "lambdamart", model.booster_.model_to_string(), {})),
                    encoding="utf-8")
    return path


def _linear_model(path: Path, weights: dict[str, float], name: str = "learned-linear") -> Path:
    n = len(features.FEATURES)
    model = {"mean": [0.5] * n, "scale": [2.0] * n,
             "weights": [weights.get(f, 0.0) for f in features.FEATURES]}
    path.write_text(json.dumps(ranking.model_document(name, "linear", model, {})), encoding="utf-8")
    return path


def test_a_trained_model_loads_and_orders_known_items_first(tmp_path: Path) -> None:
    ranker = ranking.load(_train_tiny_model(tmp_path / "m.json"))
    assert ranker is not None and ranker.name == "learned-test"
    lists = _lists()
    entries = _fused(lists)
    entries[1].exact = True  # b names the query exactly: first whatever the model says
    ordered = ranker.rerank("安全生产检查", entries, lists, DEPTH)
    assert ordered is not None
    assert ordered[0].article_id == "b"
    assert ordered[1].article_id == "a"  # the only title holding the query's bigrams
    assert all(0 <= e.score <= 1 for e in ordered)


def test_a_linear_model_scores_standardised_rows(tmp_path: Path) -> None:
    """score = Σ w·(x − mean)/scale: here the cosine alone, so the vector side's order, b (no cosine) last."""
    ranker = ranking.load(_linear_model(tmp_path / "lin.json", {"cosine": 3.0}))
    assert ranker is not None and ranker.name == "learned-linear"
    lists = _lists()
    ordered = ranker.rerank("安全生产检查", _fused(lists), lists, DEPTH)
    assert ordered is not None
    assert [e.article_id for e in ordered][:2] == ["c", "a"] and ordered[-1].article_id == "b"
    assert ordered[0].score == pytest.approx(1 / (1 + math.exp(-3.0 * (0.5 - 0.5) / 2.0)))
    rows = features.rows("安全生产检查", _fused(lists), lists, DEPTH)
    scores = ranker.model.predict(np.asarray(rows))
    assert list(scores) == pytest.approx([3.0 * (r[features.FEATURES.index("cosine")] - 0.5) / 2.0 for r in rows])


@pytest.mark.parametrize("model", [{"mean": [0.0], "scale": [1.0], "weights": [1.0]},
                                   "not a dict", None])
def test_a_malformed_linear_model_loads_as_none(tmp_path: Path, model: object,
                                                caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "lin.json"
    document = ranking.model_document("x", "linear", {}, {}) | {"model": model}
    path.write_text(json.dumps(document), encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="service.ranking"):
        assert ranking.load(path) is None
    assert any("not loaded" in r.getMessage() for r in caplog.records)


def test_a_linear_model_with_a_zero_scale_or_an_unknown_kind_loads_as_none(tmp_path: Path) -> None:
    path = _linear_model(tmp_path / "lin.json", {"cosine": 1.0})
    document = json.loads(path.read_text(encoding="utf-8"))
    for broken in ({**document, "model": {**document["model"], "scale": [0.0] * len(features.FEATURES)}},
                   {**document, "kind": "forest"}):
        path.write_text(json.dumps(broken), encoding="utf-8")
        assert ranking.load(path) is None
    with pytest.raises(ValueError):
        ranking.model_document("x", "forest", {}, {})


def test_the_committed_model_loads() -> None:
    path = Settings(_env_file=None).ranker_model  # type: ignore[call-arg]
    assert path == train.MODEL_FILE and path.exists(), "train it: python -m bench.relevance.train"
    ranker = ranking.load(path)
    assert ranker is not None and ranker.name == train.VERSION
    assert path.stat().st_size < 1024 * 1024
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["features"] == list(features.FEATURES)
    assert document["trained"]["held_out_years_used"] is False


@pytest.mark.parametrize("content", [None, "not json {", json.dumps({"format": "other"}),
                                     json.dumps({"format": ranking.MODEL_FORMAT, "name": "x", "features": ["a"],
                                                 "model": ""}),
                                     json.dumps({"format": ranking.MODEL_FORMAT, "name": "x",
                                                 "features": list(features.FEATURES), "model": "garbage"})])
def test_missing_or_corrupt_model_files_load_as_none_with_an_error(tmp_path: Path, content: str | None,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "ranker.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="service.ranking"):
        assert ranking.load(path) is None
    assert any("not loaded" in r.getMessage() for r in caplog.records)


def test_no_model_configured_is_no_ranker() -> None:
    assert ranking.load(None) is None
    assert Settings(_env_file=None, ranker_model="").ranker_model is None  # type: ignore[call-arg]


# ---- the `ranking` field --------------------------------------------------------------------------

class _Broken:
    name = "learned-broken"

    def predict(self, rows: object) -> None:
        raise RuntimeError("model exploded")


def _ranking(mode: str, ranker: ranking.Reranker | None) -> dict:
    return asyncio.run(Searcher(FakeBackend(), FakeEmbedder([0.1] * 512), SETTINGS, ranker=ranker).search(
        SearchRequest(q="安全生产检查", mode=mode, size=3)))


def test_every_response_says_which_ranking_answered(tmp_path: Path) -> None:
    learned = ranking.load(_train_tiny_model(tmp_path / "m.json"))
    assert _ranking("hybrid", learned)["ranking"] == "learned-test"
    assert _ranking("hybrid", None)["ranking"] == "fusion-normalized"
    assert _ranking("bm25", learned)["ranking"] == "bm25"
    assert _ranking("vector", learned)["ranking"] == "vector"


def test_a_ranker_failing_on_a_query_answers_in_fusion_order(caplog: pytest.LogCaptureFixture) -> None:
    broken = ranking.LearnedRanker("learned-broken", _Broken())
    with caplog.at_level(logging.ERROR, logger="service.ranking"):
        response = _ranking("hybrid", broken)
    assert response["ranking"] == "fusion-normalized"
    assert [h["id"] for h in response["hits"]] == [h["id"] for h in _ranking("hybrid", None)["hits"]]
    assert any("failed" in r.getMessage() for r in caplog.records)
