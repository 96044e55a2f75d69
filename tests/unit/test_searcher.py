"""service.search.Searcher over a fake backend (recorded responses) and a fake query embedder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest

from govsearch.schema import METADATA_FIELDS
from govsearch.settings import Settings
from service.backend import SearchRejected
from service.errors import ServiceUnavailable
from service.fusion import calibrate_bm25, calibrate_cosine
from service.query import Filters, SearchRequest
from service.schemas import SearchResponse
from service.search import Searcher
from tests.unit.es_fakes import Body, FakeBackend, FakeEmbedder, aggregations, hit, kind, response

ALIAS = "unit-alias"


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"index_alias": ALIAS, "fusion": "normalized", "bm25_weight": 2.0, "vector_weight": 1.0,
                              "rrf_k": 60, "candidate_depth": 50, "knn_num_candidates": 400,
                              "vector_min_similarity": 0.1}
    return Settings(_env_file=None, **{**values, **overrides})  # type: ignore[call-arg]


def _search(backend: FakeBackend, req: SearchRequest, embedder: FakeEmbedder | None = None,
            **settings: Any) -> dict[str, Any]:
    searcher = Searcher(backend, embedder or FakeEmbedder(), _settings(**settings))
    result = asyncio.run(searcher.search(req))
    SearchResponse.model_validate(result)  # the v1 contract
    return result


AGGS = aggregations(42, publisher=[{"key": "港西镇人民政府", "doc_count": 50, "articles": {"value": 42}}],
                    year=[{"key": 2022.0, "doc_count": 50, "articles": {"value": 40}},
                          {"key": 2021.0, "doc_count": 3, "articles": {"value": 2}}])

# BM25 (collapsed: one hit per article), best first.
BM25_HITS = [hit("b1", 60.0, 2, highlight="<em>港西镇</em>安全"), hit("b2", 20.0, 0, date="2021-05-01"),
             hit("both", 10.0, 1, highlight="bm25 passage"), hit("b3", 5.0, 0, date=None)]
# kNN (passages: an article can come back several times), best first; ES scores are (1 + cos) / 2.
KNN_HITS = [hit("both", 0.95, 4), hit("v1", 0.9, 0, publisher="庙镇人民政府", date="2023-01-02"),
            hit("both", 0.85, 5), hit("v2", 0.7, 3, department="社区事务受理中心"), hit("v1", 0.6, 1)]


def _hybrid_backend() -> FakeBackend:
    return FakeBackend(bm25=response(BM25_HITS), knn=response(KNN_HITS))


def test_bm25_mode_pages_in_elasticsearch_with_aggregation_facets() -> None:
    backend = FakeBackend(bm25=response(BM25_HITS[:2], AGGS))
    result = _search(backend, SearchRequest(q="港西镇", mode="bm25", size=2, page=3))
    ((index, (body,)),) = backend.calls
    assert index == ALIAS
    assert (kind(body), body["from"], body["size"]) == ("bm25", 4, 2)
    assert (result["total"], result["page"], result["size"], result["mode"]) == (42, 3, 2, "bm25")
    assert [h["id"] for h in result["hits"]] == ["b1", "b2"]
    assert [h["score"] for h in result["hits"]] == [round(calibrate_bm25(60.0), 4), round(calibrate_bm25(20.0), 4)]
    assert result["facets"]["year"] == [{"value": 2022, "count": 40}, {"value": 2021, "count": 2}]
    assert result["degraded"] is False and "degraded_reason" not in result


def test_a_hit_carries_the_metadata_and_its_passage() -> None:
    backend = FakeBackend(bm25=response(BM25_HITS, AGGS))
    first, second = _search(backend, SearchRequest(q="港西镇", mode="bm25"))["hits"][:2]
    assert {name: first[name] for name in METADATA_FIELDS} == {name: BM25_HITS[0]["_source"][name]
                                                               for name in METADATA_FIELDS}
    assert first["snippet"] == "<em>港西镇</em>安全"
    assert first["text"] == BM25_HITS[0]["_source"]["text"]
    # No highlight: the snippet is the passage's start, HTML-escaped.
    assert second["snippet"] == second["text"][:160]


def test_snippet_without_highlight_is_html_escaped() -> None:
    raw = hit("x", 3.0)
    raw["_source"]["text"] = "<script>alert(1)</script> & 安全"
    result = _search(FakeBackend(bm25=response([raw], AGGS)), SearchRequest(q="安全", mode="bm25"))
    # escaped, and the query's text the highlighter left unmarked is marked by the service (`marks.snippet`)
    assert result["hits"][0]["snippet"] == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; <em>安全</em>"


def test_hybrid_sends_both_retrievers_in_one_round_trip_with_the_same_filters() -> None:
    backend = _hybrid_backend()
    embedder = FakeEmbedder([0.25, 0.5])
    req = SearchRequest(q="港西镇", filters=Filters(town=("港西镇",)), page=2)
    _search(backend, req, embedder, candidate_depth=30)
    assert embedder.texts == ["港西镇"]
    ((index, bodies),) = backend.calls
    assert index == ALIAS
    bm25, knn = bodies
    assert (kind(bm25), kind(knn)) == ("bm25", "knn")
    assert bm25["query"]["bool"]["filter"] == knn["knn"]["filter"]
    assert {"terms": {"town": ["港西镇"]}} in knn["knn"]["filter"]
    # A fixed-depth relevance list, whatever the page asked for.
    assert (bm25["from"], bm25["size"], "aggs" in bm25) == (0, 30, False)
    assert bm25["sort"][0] == "_score"
    assert (knn["knn"]["k"], knn["knn"]["query_vector"]) == (60, [0.25, 0.5])


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_hit_the_word_search_found_through_single_characters_only_is_labelled_by_meaning(mode: str) -> None:
    """多巴胺 is three characters to smartcn: 多 and 巴 in 巴基斯坦 news match its word clause, no pair of it."""
    scattered = hit("s", 9.0, 0, clauses={"words": 9.0}, title="巴基斯坦多地降雨")
    paired = hit("p", 8.0, 0, clauses={"words": 8.0, "bigrams_any": 1.0}, title="多巴胺")
    backend = FakeBackend(bm25=response([scattered, paired], AGGS), knn=response([hit("s", 0.9, 0, clauses={})]))
    def labels(q: str) -> dict[str, str]:
        hits = _search(backend, SearchRequest(q=q, mode=mode), vector_only_top_rank=10)["hits"]
        return {h["id"]: h["match"] for h in hits}

    assert labels("多巴胺") == {"s": "meaning", "p": "words"}
    assert labels("巴") == {"s": "words", "p": "words"}  # the query asks for a single character


def test_each_hit_says_whether_it_holds_words_of_the_query_or_was_found_by_meaning_alone() -> None:
    knn = [*KNN_HITS, hit("v3", 0.65, 0, highlight="一个<em>港西镇</em>的词")]  # vector-only, but a word is marked
    result = _search(FakeBackend(bm25=response(BM25_HITS), knn=response(knn)), SearchRequest(q="港西镇", size=50),
                     vector_only_top_rank=10)
    match = {h["id"]: h["match"] for h in result["hits"]}
    assert match == {"b1": "words", "b2": "words", "b3": "words", "both": "words", "v3": "words",
                     "v1": "meaning", "v2": "meaning"}
    bm25 = _search(FakeBackend(bm25=response(BM25_HITS, AGGS)), SearchRequest(q="港西镇", mode="bm25"))
    assert {h["match"] for h in bm25["hits"]} == {"words"}  # bm25 mode finds by words only
    exact = hit("e1", 9.0, exact=True)
    vector = _search(FakeBackend(exact=response([exact]), knn=response(KNN_HITS)),
                     SearchRequest(q="e1", mode="vector"))
    assert [(h["id"], h["match"]) for h in vector["hits"][:2]] == [("e1", "words"), ("both", "meaning")]
    # the title marks the query's text in hits the word search found; a hit found by meaning alone is not marked
    # by the service (its title 标题v1 holds 标题 as text, not as a word the search matched)
    titled = _search(FakeBackend(bm25=response(BM25_HITS), knn=response(KNN_HITS)), SearchRequest(q="标题", size=50),
                     vector_only_top_rank=10)
    shown = {h["id"]: (h["match"], h["title_snippet"].startswith("<em>标题</em>")) for h in titled["hits"]}
    assert shown["b1"] == ("words", True) and shown["v1"] == ("meaning", False)


@pytest.mark.parametrize("fusion", ["normalized", "rrf"])
def test_hybrid_fuses_unique_articles_and_counts_facets_over_them(fusion: str) -> None:
    result = _search(_hybrid_backend(), SearchRequest(q="港西镇", size=50), fusion=fusion)
    ids = [h["id"] for h in result["hits"]]
    assert sorted(ids) == ["b1", "b2", "b3", "both", "v1", "v2"]
    assert result["total"] == 6
    assert ids[0] == "both"  # found by both sides
    scores = [h["score"] for h in result["hits"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    # Articles, not passages: "both" and v1 came back as several passages but count once.
    assert sum(b["count"] for b in result["facets"]["publisher"]) == 6
    assert {"value": "庙镇人民政府", "count": 1} in result["facets"]["publisher"]
    assert result["facets"]["year"] == [{"value": 2022, "count": 3}, {"value": 2021, "count": 1},
                                        {"value": 2023, "count": 1}]


def test_hybrid_score_is_the_weighted_mean_and_shows_the_stronger_sides_passage() -> None:
    result = _search(_hybrid_backend(), SearchRequest(q="港西镇"), bm25_weight=1.0, vector_weight=1.0)
    both = next(h for h in result["hits"] if h["id"] == "both")
    assert both["score"] == pytest.approx((calibrate_bm25(10.0) + calibrate_cosine(0.95)) / 2, abs=1e-4)
    assert both["text"] == KNN_HITS[0]["_source"]["text"]  # cosine 0.9 beats BM25's 0.33


def test_hybrid_pages_the_fused_list() -> None:
    full = [h["id"] for h in _search(_hybrid_backend(), SearchRequest(q="港西镇", size=50))["hits"]]
    pages = []
    for page in (1, 2, 3, 4):
        result = _search(_hybrid_backend(), SearchRequest(q="港西镇", size=2, page=page))
        assert result["total"] == len(full) and result["page"] == page
        pages.append([h["id"] for h in result["hits"]])
    assert pages[0] + pages[1] + pages[2] == full
    assert [len(p) for p in pages] == [2, 2, 2, 0]


def _held(body: Body) -> list[Body]:
    """A date-sorted list's clauses for the query's parts (`query.dated_clauses`)."""
    (dated,) = body["query"]["bool"]["must"]
    assert dated["bool"]["_name"] == "dated"
    return list(dated["bool"]["must"])


def _typed(body: Body) -> bool:
    """Whether a bm25 body asks for the query's parts as typed (`Match` `typed`: phrases, all of them)."""
    return all(clause.get("multi_match", {}).get("type") == "phrase" for clause in _held(body))


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_sort_by_date_lists_the_articles_holding_the_query_as_typed_newest_first(mode: str) -> None:
    backend, embedder = FakeBackend(bm25=response(BM25_HITS[:2], AGGS)), FakeEmbedder()
    result = _search(backend, SearchRequest(q="港西镇 安全", mode=mode, sort="date", size=2, page=2), embedder)
    ((_, (body,)),) = backend.calls  # one request: no kNN, no page fetch, no query vector
    assert embedder.texts == []
    assert _typed(body) and [c["multi_match"]["query"] for c in _held(body)] == ["港西镇", "安全"]
    # as typed: the characters in a row (the character-pair field), however the segmenter splits the text
    assert all(c["multi_match"]["fields"] == ["title.bigram", "text.bigram"] for c in _held(body))
    assert body["sort"][0] == {"date": {"order": "desc", "missing": "_last"}}
    assert (body["from"], body["size"], "aggs" in body) == (2, 2, True)
    assert (result["ranking"], result["total"], [h["id"] for h in result["hits"]]) == ("date", 42, ["b1", "b2"])
    assert all(h["match"] == "words" for h in result["hits"])


def test_vector_mode_sorts_its_nearest_articles_by_date_newest_first_undated_last() -> None:
    knn = [*KNN_HITS, hit("v4", 0.8, 0, date=None)]
    result = _search(FakeBackend(exact=response([]), knn=response(knn)), SearchRequest(q="港西镇", mode="vector",
                                                                                      sort="date", size=50))
    dates = [h["date"] for h in result["hits"]]
    assert dates[0] == "2023-01-02" and dates[-1] is None
    assert dates[:-1] == sorted(dates[:-1], reverse=True)


def test_sort_by_date_falls_back_to_most_words_when_no_article_holds_the_query_as_typed() -> None:
    class NothingTyped(FakeBackend):
        async def msearch(self, index: str, bodies: Sequence[Body]) -> list[Body]:
            answers = await super().msearch(index, bodies)
            return [response([], aggregations(0)) if kind(body) == "bm25" and _typed(body) else answer
                    for body, answer in zip(bodies, answers)]

    backend = NothingTyped(bm25=response(BM25_HITS[:2], AGGS))
    result = _search(backend, SearchRequest(q="老人装电视", sort="date", size=2))
    typed, worded = backend.bodies
    assert _typed(typed) and not _typed(worded)
    (part,) = _held(worded)
    names = [c["multi_match"].get("_name") for c in part["bool"]["should"][0]["bool"]["must"]]
    assert names == ["words", "bigrams"]  # both, and not the loose clause: one shared pair of characters is no match
    assert (result["total"], [h["id"] for h in result["hits"]]) == (42, ["b1", "b2"])


def test_exact_title_hit_is_pinned_first_in_hybrid() -> None:
    bm25 = BM25_HITS + [hit("title-match", 1.0, 0, exact=True, title="港西镇")]
    result = _search(FakeBackend(bm25=response(bm25), knn=response(KNN_HITS)), SearchRequest(q="港西镇"))
    assert result["hits"][0]["id"] == "title-match"
    assert result["hits"][0]["score"] < result["hits"][1]["score"]


def test_vector_mode_pins_the_known_item_lookup_and_ranks_by_cosine() -> None:
    backend = FakeBackend(exact=response([hit("title-match", 250.0, 0, exact=True)]), knn=response(KNN_HITS))
    result = _search(backend, SearchRequest(q="港西镇", mode="vector", size=10), candidate_depth=2)
    (_, (exact, knn)), (_, (page,)) = backend.calls  # the candidates, then the page's passages
    assert (kind(exact), kind(knn), kind(page)) == ("exact", "knn", "page")
    assert [h["id"] for h in result["hits"]] == ["title-match", "both", "v1"]  # depth 2 cuts v2
    assert [h["score"] for h in result["hits"]] == [1.0, round(calibrate_cosine(0.95), 4),
                                                    round(calibrate_cosine(0.9), 4)]
    assert result["total"] == 3


class _SizedIndex(FakeBackend):
    """Refuses a kNN body whose vector is not `dims` long, as Elasticsearch does."""

    def __init__(self, dims: int, **responses: Body) -> None:
        super().__init__(**responses)
        self.dims = dims

    async def msearch(self, index: str, bodies: Any) -> list[Body]:
        for body in bodies:
            if kind(body) == "knn" and len(body["knn"]["query_vector"]) != self.dims:
                raise SearchRejected("query vector has a different number of dimensions")
        return await super().msearch(index, bodies)


@pytest.mark.parametrize("mode", ["hybrid", "vector"])
def test_after_a_model_change_the_query_is_embedded_again_with_the_live_model(mode: str) -> None:
    """The alias moved to an index of another model (a reindex, maybe by another replica) before the embedder
    read it again: the refused kNN search is run once more, with the new model's vector."""
    backend = _SizedIndex(4, bm25=response(BM25_HITS, AGGS), exact=response([]), knn=response(KNN_HITS))
    embedder = FakeEmbedder([0.1, 0.2, 0.3], changes=1, changed_vector=[0.1, 0.2, 0.3, 0.4])
    result = _search(backend, SearchRequest(q="港西镇", mode=mode), embedder)
    assert result["degraded"] is False and "v1" in [h["id"] for h in result["hits"]]
    assert embedder.texts == ["港西镇", "港西镇"] and embedder.changes == 0


def test_a_refused_search_with_the_same_model_is_an_error() -> None:
    backend = _SizedIndex(4, bm25=response(BM25_HITS, AGGS), knn=response(KNN_HITS))
    with pytest.raises(SearchRejected):
        _search(backend, SearchRequest(q="港西镇", mode="hybrid"), FakeEmbedder([0.1, 0.2, 0.3]))


@pytest.mark.parametrize("mode", ["hybrid", "vector"])
def test_a_failing_embedder_degrades_to_bm25(mode: str) -> None:
    backend = FakeBackend(bm25=response(BM25_HITS, AGGS))
    result = _search(backend, SearchRequest(q="港西镇", mode=mode), FakeEmbedder(error=RuntimeError("model gone")))
    assert result["degraded"] is True
    assert "RuntimeError" in result["degraded_reason"]
    assert result["mode"] == mode
    assert [kind(body) for body in backend.bodies] == ["bm25"]
    assert [h["id"] for h in result["hits"]] == ["b1", "b2", "both", "b3"]
    assert result["total"] == 42


def test_bm25_mode_never_embeds() -> None:
    embedder = FakeEmbedder(error=AssertionError("bm25 must not embed"))
    result = _search(FakeBackend(bm25=response([], AGGS)), SearchRequest(q="港西镇", mode="bm25"), embedder)
    assert embedder.texts == [] and result["degraded"] is False and result["hits"] == []


def _typo_checks(backend: FakeBackend) -> int:
    return sum(kind(body) == "suggest" for _, bodies in backend.aside_calls for body in bodies)


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_the_typo_check_rides_in_the_candidate_search_and_costs_no_round_trip(mode: str) -> None:
    # Each hit's text is "<id>的第<position>段正文": every character pair of 的第 and 段正文 is in a passage.
    backend = FakeBackend(bm25=response(BM25_HITS, AGGS), knn=response(KNN_HITS),
                          suggest={"took": 1, "timed_out": False, "hits": {"hits": []},
                                   "suggest": {"w0": [{"text": "的第", "offset": 0, "length": 2,
                                                       "options": [{"text": "目第", "score": 0.5, "freq": 3}]}]}})
    result = _search(backend, SearchRequest(q="的第 段正文", mode=mode))
    assert result["did_you_mean"] is None  # found every pair: the suggester's answer is not read
    searches = [trip for trip in backend.round_trips if "names" not in trip]
    candidates = ["bm25"] if mode == "bm25" else ["bm25", "knn"]
    assert searches[0] == [*candidates, "suggest"]  # one round trip: candidates and typo check together
    assert _typo_checks(backend) == 1 and all("suggest" not in trip for trip in searches[1:])


@pytest.mark.parametrize("q", ["安全生厂", "的第 段正厂"])
def test_a_search_missing_a_words_character_pair_checks_for_typos(q: str) -> None:
    # 安全 is in no passage; 正厂 is in none either, though 的第 is.
    backend = FakeBackend(bm25=response(BM25_HITS, AGGS))
    _search(backend, SearchRequest(q=q, mode="bm25"))
    assert _typo_checks(backend) == 1


def test_a_search_that_found_nothing_checks_for_typos() -> None:
    backend = FakeBackend(bm25=response([], {**AGGS, "articles": {"value": 0}}))
    _search(backend, SearchRequest(q="港西镇", mode="bm25"))
    assert _typo_checks(backend) == 1  # the rare word's check (港西镇 in no passage) reads the page: nothing on it


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_an_answer_some_shard_missed_says_it_is_degraded(mode: str) -> None:
    partial = response(BM25_HITS, AGGS) | {"_shards": {"total": 2, "successful": 1, "skipped": 0, "failed": 1}}
    backend = FakeBackend(bm25=partial, knn=response(KNN_HITS))
    result = _search(backend, SearchRequest(q="港西镇", mode=mode))
    assert result["hits"] and result["degraded"] is True
    assert "incomplete" in result["degraded_reason"]


def test_a_timed_out_answer_says_it_is_degraded() -> None:
    late = response(BM25_HITS, AGGS) | {"timed_out": True}
    result = _search(FakeBackend(bm25=late), SearchRequest(q="港西镇", mode="bm25"))
    assert result["degraded"] is True and "did not answer in time" in result["degraded_reason"]


def test_a_search_past_its_deadline_is_a_503_unavailable() -> None:
    """A node that hangs instead of refusing connections: every round trip would wait its own timeout."""
    class Hanging(FakeBackend):
        async def msearch(self, index: str, bodies: Sequence[Body]) -> list[Body]:
            await asyncio.sleep(30)
            raise AssertionError("never answers")

    searcher = Searcher(Hanging(), FakeEmbedder(), _settings(search_deadline=0.2))
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="did not answer in time"):
        asyncio.run(searcher.search(SearchRequest(q="港西镇", mode="bm25")))
    assert time.monotonic() - started < 5
