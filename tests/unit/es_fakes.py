"""Recorded-shape Elasticsearch responses and fakes for the searcher's two seams (backend, embedder)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.facets import FACET_FIELDS
from service.query import EXACT_QUERY_NAME, LOOSE_CLAUSE

Body = dict[str, Any]


def aggregations(articles: int = 1, **buckets: list[dict[str, Any]]) -> Body:
    """The aggregations of a bm25 request (`service.facets.aggregations`): every facet, with `buckets` given by
    facet name (`publisher=[...]`) and none for the others."""
    return {"articles": {"value": articles},
            **{f"facet_{name}": {"buckets": buckets.get(name, [])} for name in FACET_FIELDS}}


def source(article_id: str, position: int = 0, *, title: str | None = None, date: str | None = "2022-11-01",
           publisher: str | None = "港西镇人民政府", department: str | None = "党群办", **extra: Any) -> dict[str, Any]:
    """A passage document's `_source` as a search fetches it (`HIT_SOURCE_FIELDS`)."""
    return {
        "article_id": article_id,
        "title": title or f"标题{article_id}",
        "publisher": publisher,
        "town": "港西镇",
        "date": date,
        "department": department,
        "section": None,
        "newsletter": None,
        "doc_number": None,
        "source": "test",
        "url": None,
        "position": position,
        "text": f"{article_id}的第{position}段正文",
        **extra,
    }


def hit(article_id: str, score: float | None, position: int = 0, *, exact: bool = False,
        highlight: str | None = None, clauses: dict[str, float] | None = None, **fields: Any) -> dict[str, Any]:
    """One passage hit as Elasticsearch returns it; as a BM25 hit, matched by `clauses` (named clause → score,
    `include_named_queries_score`; default: one pair of the query's characters, `LOOSE_CLAUSE`)."""
    result: dict[str, Any] = {
        "_index": "gov-articles-20240101",
        "_id": f"p:{article_id}-{position}",
        "_score": score,
        "_source": source(article_id, position, **fields),
        "matched_queries": {LOOSE_CLAUSE: 0.3} if clauses is None else dict(clauses),
    }
    if highlight is not None:
        result["highlight"] = {"text": [highlight]}
    if exact:
        result["matched_queries"][EXACT_QUERY_NAME] = 100.0
    return result


def response(hits: list[dict[str, Any]], aggregations: dict[str, Any] | None = None) -> Body:
    result: Body = {"took": 3, "timed_out": False, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                    "hits": {"max_score": None, "hits": hits}, "status": 200}
    if aggregations is not None:
        result["aggregations"] = aggregations
    return result


def kind(body: Body) -> str:
    """Which of the searcher's requests a body is: knn, exact (the known-item lookup), bm25, or page
    (the follow-up fetch of a fused page's passages by id), suggest (the typo check) or names (the towns
    and publishers query understanding knows)."""
    if "suggest" in body:
        return "suggest"
    if "aggs" in body and "town" in body["aggs"]:
        return "names"
    if "knn" in body:
        return "knn"
    if "ids" in body["query"]:
        return "page"
    query = body["query"]["bool"]
    return "bm25" if "must" in query else "exact"


class FakeBackend:
    """A `SearchBackend` answering each body with the recorded response for its kind."""

    def __init__(self, **responses: Body) -> None:
        self.responses = responses
        self.calls: list[tuple[str, list[Body]]] = []  # the search's bodies, per round trip
        self.aside_calls: list[tuple[str, list[Body]]] = []  # the typo check's and understanding's, per round trip
        self.round_trips: list[list[str]] = []  # each round trip's bodies, by kind

    async def msearch(self, index: str, bodies: Sequence[Body]) -> list[Body]:
        self.round_trips.append([kind(body) for body in bodies])
        search = [body for body in bodies if kind(body) not in ("suggest", "names")]
        aside = [body for body in bodies if kind(body) in ("suggest", "names")]
        for calls, part in ((self.calls, search), (self.aside_calls, aside)):
            if part:
                calls.append((index, part))
        return [self._page(body) if kind(body) == "page" else _collapsed(body, self._recorded(kind(body)))
                for body in bodies]

    def _recorded(self, name: str) -> Body:
        if name == "suggest" and name not in self.responses:  # no word of the query is misspelt
            return {"took": 1, "timed_out": False, "hits": {"hits": []}, "suggest": {}}
        if name == "names" and name not in self.responses:  # the index knows no town
            return {"took": 1, "timed_out": False, "hits": {"hits": []}, "aggregations": {}}
        return self.responses[name]

    def _page(self, body: Body) -> Body:
        """The page's passages, whole, as the recorded candidate responses hold them (with their highlight)."""
        known = {h["_id"]: h for r in self.responses.values() for h in r["hits"]["hits"]}
        return response([known[doc_id] for doc_id in body["query"]["ids"]["values"] if doc_id in known])

    @property
    def bodies(self) -> list[Body]:
        return [body for _, bodies in self.calls for body in bodies]


def _collapsed(body: Body, recorded: Body) -> Body:
    """What Elasticsearch does with a body's `collapse` and `size`: each article's first hit, at most `size`
    of them (a recorded page is answered as recorded: its `from` is not applied again)."""
    if "collapse" not in body or "hits" not in recorded:
        return recorded
    kept: dict[str, Body] = {}
    for one in recorded["hits"]["hits"]:
        kept.setdefault(one["_source"]["article_id"], one)
    return {**recorded, "hits": {**recorded["hits"], "hits": list(kept.values())[:body.get("size", 10)]}}


class FakeEmbedder:
    """Query vectors: `vector` for every text (or `error` raised); `changes` is how many times a re-read of the
    live index's model will find another model, whose vector is `changed_vector`."""

    def __init__(self, vector: list[float] | None = None, error: Exception | None = None, *,
                 changes: int = 0, changed_vector: list[float] | None = None) -> None:
        self.vector = vector or [0.1, 0.2, 0.3]
        self.error = error
        self.changes = changes
        self.changed_vector = changed_vector
        self.texts: list[str] = []

    async def embed(self, text: str) -> list[float]:
        self.texts.append(text)
        if self.error is not None:
            raise self.error
        return self.vector

    async def refresh_model(self) -> None:
        if self.changes:
            self.changes -= 1
            self.vector = self.changed_vector or self.vector
