"""The lean query path without Elasticsearch: a fake `SearchBackend` records every request body.

- candidate searches (BM25 list, kNN, known-item lookup) carry no highlight and read doc values only;
- one follow-up request fetches and highlights only the page's winning passages, by id;
- every body carries Elasticsearch's own `timeout`;
- admission control sheds with 503 `overloaded` + Retry-After when every search slot is taken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from govsearch.settings import Settings
from service import errors
from service.admission import Admission, Overloaded
from service.limits import ConfiguredNetworks
from service.query import CANDIDATE_DOC_VALUES, CANDIDATE_HIT, SOURCE_FIELDS, SearchRequest, highlight, hit_source
from service.routes import search as search_route
from service.search import Searcher
from tests.unit.es_fakes import FakeEmbedder, aggregations

INDEX = "test-gov-articles-20260101-000000-abcd"
SETTINGS = Settings(index_alias="test-gov-articles", candidate_depth=10, es_search_timeout=0.8)

# Six articles; each has passages 0 and 1. BM25 ranks a0..a5, the vector side a5..a0 on passage 1.
ARTICLES = [f"a{i}" for i in range(6)]
META = {
    a: {"title": f"标题{i}", "publisher": "港西镇人民政府" if i % 2 else "建设镇人民政府", "department": "党群办",
        "town": "港西镇", "date": f"2023-0{i + 1}-01"}
    for i, a in enumerate(ARTICLES)
}


def _candidate_hit(body: dict[str, Any], article_id: str, position: int, score: float) -> dict[str, Any]:
    """A hit as Elasticsearch answers a search reading doc values only: the requested fields the passage
    has, each a list (a keyword with the `exact` normalizer lower-cased), and no `_id`."""
    values = {**META[article_id], "article_id": article_id, "position": position}
    values["title.exact"] = values.pop("title").lower()
    assert body["stored_fields"] == "_none_" and body["_source"] is False
    return {"_index": INDEX, "_score": score,
            "fields": {name: [values[name]] for name in body["docvalue_fields"] if values.get(name) is not None}}


def _full_hit(doc_id: str) -> dict[str, Any]:
    article_id, position = doc_id[2:].rsplit("-", 1)
    text = f"{article_id} 第{position}段 安全生产检查 正文"
    return {"_index": INDEX, "_id": doc_id, "_score": None,
            "_source": {"article_id": article_id, **META[article_id], "section": None, "newsletter": None,
                        "doc_number": None, "source": "test", "url": None, "position": int(position), "text": text},
            "highlight": {"text": [text.replace("安全生产", "<em>安全生产</em>")]}}


class FakeBackend:
    """Answers candidate searches from the tables above and the page fetch by id; keeps every call
    (apart: the typo check's, which finds no misspelt word here, and understanding's, which knows no town)."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []
        self.aside_calls: list[tuple[str, list[dict[str, Any]]]] = []
        self.gate = gate

    async def msearch(self, index: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        aside = [body for body in bodies if _aside(body)]
        search = [body for body in bodies if not _aside(body)]
        if aside:
            self.aside_calls.append((index, aside))
        if search:
            self.calls.append((index, search))
            if self.gate is not None:
                await self.gate.wait()
        return [{"took": 1, "timed_out": False, "hits": {"hits": []}, "suggest": {}, "aggregations": {}}
                if _aside(body) else self._answer(body) for body in bodies]

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        if "knn" in body:
            hits = [_candidate_hit(body, a, 1, 0.9 - 0.05 * i) for i, a in enumerate(reversed(ARTICLES))]
        elif "ids" in body.get("query", {}):
            hits = [_full_hit(doc_id) for doc_id in body["query"]["ids"]["values"]]
        elif "aggs" in body:  # bm25 mode's page: whole, highlighted passages
            hits = [_full_hit(f"p:{a}-0") for a in ARTICLES[body["from"]:body["from"] + body["size"]]]
            return {"took": 1, "timed_out": False, "hits": {"hits": hits}, "aggregations": aggregations(6)}
        elif body["size"] == 5:  # the known-item lookup
            hits = []
        else:
            hits = [_candidate_hit(body, a, 0, 30.0 - i) for i, a in enumerate(ARTICLES)]
        return {"took": 1, "timed_out": False, "hits": {"hits": hits}}


def _aside(body: dict[str, Any]) -> bool:
    """The typo check's suggest body or understanding's names query (not part of the search itself)."""
    return "suggest" in body or "town" in body.get("aggs", {})


def _search(req: SearchRequest, backend: FakeBackend | None = None) -> tuple[dict[str, Any], FakeBackend]:
    backend = backend or FakeBackend()
    response = asyncio.run(Searcher(backend, FakeEmbedder([0.1] * 512), SETTINGS).search(req))
    return response, backend


@pytest.mark.parametrize("mode", ["hybrid", "vector"])
def test_candidate_searches_are_lean(mode: str) -> None:
    _, backend = _search(SearchRequest(q="安全生产检查", mode=mode, size=3))
    (alias, candidates), (index, [follow_up]) = backend.calls
    assert alias == SETTINGS.index_alias
    assert len(candidates) == 2
    for body in candidates:
        assert "highlight" not in body
        assert {key: body[key] for key in CANDIDATE_HIT} == CANDIDATE_HIT  # no stored field: doc values only
        assert body["timeout"] == "800ms"
    # Small values only besides the title: the passage's position and the article's passage count are
    # features of the learned ranker (service.features); never the text.
    assert set(CANDIDATE_DOC_VALUES.values()) == {"article_id", "date", "publisher", "department", "town", "title",
                                                  "position", "passage_count"}
    assert "text" not in CANDIDATE_DOC_VALUES
    assert follow_up["timeout"] == "800ms"


def test_page_fetch_highlights_only_the_page_hits() -> None:
    req = SearchRequest(q="安全生产检查", mode="hybrid", size=2, page=2)
    response, backend = _search(req)
    (_, candidates), (index, [follow_up]) = backend.calls
    # From the index that answered the candidates, not the alias (which an admin switch may move).
    assert index == INDEX
    shown = [hit["id"] for hit in response["hits"]]
    assert len(shown) == 2
    # Exactly the page's winning passages (one per article), no more, whole and highlighted.
    ids = follow_up["query"]["ids"]["values"]
    assert [doc_id[2:].rsplit("-", 1)[0] for doc_id in ids] == shown
    assert follow_up["size"] == 2
    assert follow_up["highlight"] == highlight(req.q)
    assert follow_up["_source"] == SOURCE_FIELDS
    # The hits carry the fetched passage (text, highlighted snippet) and the article's metadata.
    for hit in response["hits"]:
        assert "<em>安全生产检查</em>" in hit["snippet"]  # the mark covers the query text the passage holds
        assert hit["text"].startswith(hit["id"])
        assert hit["publisher"] == META[hit["id"]]["publisher"]
        assert hit["title"] == META[hit["id"]]["title"]
    # total and facets still count the whole fused list, from the slim candidates.
    assert response["total"] == 6
    assert sum(bucket["count"] for bucket in response["facets"]["publisher"]) == 6
    assert [bucket["value"] for bucket in response["facets"]["year"]] == [2023]


def test_pages_continue_each_other() -> None:
    seen: list[str] = []
    for page in (1, 2, 3):
        response, _ = _search(SearchRequest(q="安全生产检查", mode="hybrid", size=2, page=page))
        seen += [hit["id"] for hit in response["hits"]]
    full, _ = _search(SearchRequest(q="安全生产检查", mode="hybrid", size=6))
    assert seen == [hit["id"] for hit in full["hits"]]
    assert len(set(seen)) == 6


def test_page_fetch_uses_the_winning_passage() -> None:
    # Vector mode: every article's best passage is position 1 (the kNN side's).
    _, backend = _search(SearchRequest(q="安全生产检查", mode="vector", size=3))
    (_, [follow_up]) = backend.calls[1]
    assert all(doc_id.endswith("-1") for doc_id in follow_up["query"]["ids"]["values"])


def test_empty_page_fetches_nothing() -> None:
    response, backend = _search(SearchRequest(q="安全生产检查", mode="hybrid", size=10, page=5))
    assert response["hits"] == [] and response["total"] == 6
    assert len(backend.calls) == 1


def test_bm25_mode_is_one_highlighted_page_request() -> None:
    response, backend = _search(SearchRequest(q="安全生产检查", mode="bm25", size=2))
    [(_, [body])] = backend.calls
    assert body["size"] == 2 and body["highlight"] == highlight("安全生产检查")
    assert body["timeout"] == "800ms"
    assert [hit["id"] for hit in response["hits"]] == ["a0", "a1"]


# ---- admission control -------------------------------------------------------------------------

class _NoBestBets:
    async def matching(self, query: str) -> list[dict[str, Any]]:
        return []


class _QueryLog:
    def __init__(self) -> None:
        self.searches: list[tuple[str, int]] = []

    def record_search(self, query: str, total: int, *, matched: bool, address: str, corrected: bool) -> None:
        self.searches.append((query, total))


def _app(searcher: Searcher) -> FastAPI:
    """The search route alone; the search log and best bets (node-backed, tested with the node) as fakes."""
    app = FastAPI()
    errors.install(app)
    app.include_router(search_route.router)
    app.state.runtime = SimpleNamespace(searcher=searcher, query_log=_QueryLog(), best_bets=_NoBestBets())
    app.state.networks = ConfiguredNetworks(trusted_proxies=(), metrics_allow_from=())
    return app


def test_overload_is_shed_at_once_with_503_and_retry_after() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        admission = Admission(limit=1, queue_wait=0.05)
        searcher = Searcher(FakeBackend(gate), FakeEmbedder([0.1] * 512), SETTINGS, admission)
        transport = httpx.ASGITransport(app=_app(searcher))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = asyncio.create_task(client.get("/search", params={"q": "安全生产检查", "mode": "bm25"}))
            while admission.in_flight < 1:  # the first search holds the only slot, stuck in the backend
                await asyncio.sleep(0.001)
            loop = asyncio.get_running_loop()
            started = loop.time()
            shed = await client.get("/search", params={"q": "河长制", "mode": "bm25"})
            assert loop.time() - started < 1.0  # answered after the short queue wait, not a timeout
            assert shed.status_code == 503
            assert shed.headers["Retry-After"] == "1"
            assert shed.json()["error"]["code"] == "overloaded"
            assert shed.json()["error"]["message"]
            assert admission.shed == 1
            gate.set()
            assert (await first).status_code == 200
            assert admission.in_flight == 0 and admission.admitted == 1
            # The slot is free again: the next search runs.
            assert (await client.get("/search", params={"q": "河长制", "mode": "bm25"})).status_code == 200

    asyncio.run(scenario())


def test_a_waiting_search_gets_the_freed_slot() -> None:
    async def scenario() -> None:
        admission = Admission(limit=1, queue_wait=2.0)
        order: list[str] = []

        async def hold(name: str, seconds: float) -> None:
            async with admission.slot():
                order.append(name)
                await asyncio.sleep(seconds)

        await asyncio.gather(hold("first", 0.05), hold("second", 0.0), hold("third", 0.0))
        assert order == ["first", "second", "third"]
        assert admission.shed == 0 and admission.admitted == 3 and admission.in_flight == 0

    asyncio.run(scenario())


def test_no_queue_wait_sheds_immediately() -> None:
    async def scenario() -> None:
        admission = Admission(limit=2, queue_wait=0)
        async with admission.slot(), admission.slot():
            with pytest.raises(Overloaded) as excinfo:
                async with admission.slot():
                    pass
            assert excinfo.value.status == 503 and excinfo.value.headers == {"Retry-After": "1"}
        assert admission.stats() == {"limit": 2, "queue_wait": 0.0, "in_flight": 0, "waiting": 0,
                                     "admitted": 2, "shed": 1}

    asyncio.run(scenario())


def test_a_candidate_hit_s_doc_values_read_as_its_source_and_its_id_as_the_indexer_makes_it() -> None:
    body = {**CANDIDATE_HIT}
    hit = _candidate_hit(body, "a1", 1, 2.0)
    assert "_id" not in hit
    source, doc_id = hit_source(hit)
    assert doc_id == "p:a1-1"
    assert source == {"article_id": "a1", "position": 1, "title": "标题1", "publisher": "港西镇人民政府",
                      "department": "党群办", "town": "港西镇", "date": "2023-02-01"}
    # A passage without a field (no date) leaves it out, as `_source` leaves it null: `.get` reads None either way.
    del hit["fields"]["date"]
    assert hit_source(hit)[0].get("date") is None
    # A hit that loaded `_source` (a page fetch, bm25 mode's page, related articles) is read as loaded.
    full = _full_hit("p:a2-0")
    assert hit_source(full) == (full["_source"], "p:a2-0")
