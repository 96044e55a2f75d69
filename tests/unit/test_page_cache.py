"""The page cache (`service.pagecache`) without Elasticsearch: a repeated vector/hybrid page is answered
from the page hits kept for the very passage versions the candidate search reports, with no page fetch;
a re-indexed passage (a new `_seq_no`), another query text or another index is fetched again; the answer
is the same either way. The fake backend stamps every hit with its passage's current version."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from govsearch.settings import Settings
from service.fusion import Candidate
from service.pagecache import PageCache
from service.query import SearchRequest
from service.search import Searcher
from tests.unit.es_fakes import FakeEmbedder

INDEX = "test-gov-articles-20260101-000000-abcd"
SETTINGS = Settings(index_alias="test-gov-articles", candidate_depth=10, es_search_timeout=0.8, page_cache_size=100)
ARTICLES = [f"a{i}" for i in range(6)]


class VersionedBackend:
    """BM25 ranks a0..a5 (passage 0), kNN a5..a0 (passage 1); each passage's text and `_seq_no` come from
    `versions`, so bumping one is a re-index of that passage. Keeps every page fetch's ids."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self.page_fetches: list[list[str]] = []

    def _stamp(self, doc_id: str) -> dict[str, Any]:
        return {"_index": INDEX, "_id": doc_id, "_seq_no": self.versions.get(doc_id, 0), "_primary_term": 1}

    def _slim(self, article_id: str, position: int, score: float) -> dict[str, Any]:
        return {**self._stamp(f"p:{article_id}-{position}"), "_score": score,
                "_source": {"article_id": article_id, "title": f"标题 {article_id}", "date": "2023-01-01"}}

    def _full(self, doc_id: str, q: str) -> dict[str, Any]:
        article_id = doc_id[2:].rsplit("-", 1)[0]
        text = f"{article_id} 版本{self.versions.get(doc_id, 0)} {q} 正文"
        return {**self._stamp(doc_id), "_score": None,
                "_source": {"article_id": article_id, "title": f"标题 {article_id}", "date": "2023-01-01",
                            "text": text},
                "highlight": {"text": [text.replace(q, f"<em>{q}</em>")]}}

    async def msearch(self, index: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self._answer(body) for body in bodies]

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        if "suggest" in body or "aggs" in body:  # the typo check, query understanding: nothing to add
            hits: list[dict[str, Any]] = []
        elif "knn" in body:
            hits = [self._slim(a, 1, 0.9 - 0.05 * i) for i, a in enumerate(reversed(ARTICLES))]
        elif "ids" in body.get("query", {}):
            ids = body["query"]["ids"]["values"]
            self.page_fetches.append(list(ids))
            q = body["highlight"]["highlight_query"]["match"]["text"]["query"]
            hits = [self._full(doc_id, q) for doc_id in ids]
        elif body["size"] == 5:  # the known-item lookup (vector mode)
            hits = []
        else:
            hits = [self._slim(a, 0, 30.0 - i) for i, a in enumerate(ARTICLES)]
        return {"took": 1, "timed_out": False, "hits": {"hits": hits}, "suggest": {}, "aggregations": {}}


def _answer(searcher: Searcher, q: str = "安全生产", **kwargs: Any) -> dict[str, Any]:
    response = asyncio.run(searcher.search(SearchRequest(q=q, size=3, **kwargs)))
    response.pop("took_ms")
    return response


@pytest.mark.parametrize("mode", ["hybrid", "vector"])
def test_a_repeated_page_needs_no_page_fetch_and_answers_the_same(mode: str) -> None:
    backend = VersionedBackend()
    searcher = Searcher(backend, FakeEmbedder([0.1] * 512), SETTINGS)
    first = _answer(searcher, mode=mode)
    assert len(backend.page_fetches) == 1 and len(backend.page_fetches[0]) == 3
    assert _answer(searcher, mode=mode) == first
    assert len(backend.page_fetches) == 1  # no second page fetch
    assert all("<em>安全生产</em>" in hit["snippet"] for hit in first["hits"])
    # Page 2 shows other passages: fetched, only those.
    _answer(searcher, mode=mode, page=2)
    assert len(backend.page_fetches) == 2 and not set(backend.page_fetches[1]) & set(backend.page_fetches[0])


def test_a_reindexed_passage_is_fetched_again() -> None:
    backend = VersionedBackend()
    searcher = Searcher(backend, FakeEmbedder([0.1] * 512), SETTINGS)
    first = _answer(searcher, mode="hybrid")
    changed = backend.page_fetches[0][1]
    backend.versions[changed] = 7  # re-indexed: new text, new _seq_no in every response from now on
    again = _answer(searcher, mode="hybrid")
    assert backend.page_fetches[1:] == [[changed]]  # only that passage, the others from the cache
    shown = {hit["id"]: hit["text"] for hit in again["hits"]}
    assert "版本7" in shown[changed[2:].rsplit("-", 1)[0]]
    assert [hit["id"] for hit in again["hits"]] == [hit["id"] for hit in first["hits"]]


def test_another_query_text_is_another_highlight() -> None:
    backend = VersionedBackend()
    searcher = Searcher(backend, FakeEmbedder([0.1] * 512), SETTINGS)
    _answer(searcher, q="安全生产", mode="hybrid")
    other = _answer(searcher, q="河长制", mode="hybrid")
    assert len(backend.page_fetches) == 2
    assert all("<em>河长制</em>" in hit["snippet"] for hit in other["hits"])


def test_size_zero_keeps_nothing() -> None:
    backend = VersionedBackend()
    searcher = Searcher(backend, FakeEmbedder([0.1] * 512), Settings(**{**SETTINGS.model_dump(), "page_cache_size": 0}))
    first = _answer(searcher, mode="hybrid")
    assert _answer(searcher, mode="hybrid") == first
    assert len(backend.page_fetches) == 2


def test_least_recently_used_hits_go_first() -> None:
    cache = PageCache(2)
    keys = [PageCache.key(Candidate(f"a{i}", 1.0, {}, None, doc_id=f"p:a{i}-0", index=INDEX, version=(i, 1)),
                          "q", ()) for i in range(3)]
    cache.put(keys[0], {"n": 0})
    cache.put(keys[1], {"n": 1})
    assert cache.get(keys[0]) == {"n": 0}  # a0 used: a1 is now the least recent
    cache.put(keys[2], {"n": 2})
    assert cache.get(keys[1]) is None and cache.get(keys[0]) == {"n": 0} and cache.get(keys[2]) == {"n": 2}
    # A candidate without a version (a search that did not ask for it) is never served from the cache.
    assert PageCache.key(Candidate("a0", 1.0, {}, None, doc_id="p:a0-0", index=INDEX), "q", ()) is None
