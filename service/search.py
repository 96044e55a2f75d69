"""The path of a query after validation: embed → Elasticsearch → group by article → fuse → rank → page
(the ranking stage, hybrid only, is `service.ranking`).

bm25 mode pages in Elasticsearch (collapse by article, exact counts and facets
from aggregations). vector and hybrid modes fetch a fixed-depth candidate list
per retriever, whatever page is asked for, and page the fused list here, so
page 2 always continues page 1 and `total` is the length of that list.

Candidate lists are lean (no highlighting, only the fields fusion, facets and the
date sort read); one small follow-up request then fetches the page's passages
whole, highlighted, but for those kept from an earlier page fetch of the same
passage version and query (`service.pagecache`): a repeated query is one round
trip. A search holds an admission slot (`service.admission`) from its first
request to Elasticsearch to its answer, so a process never runs more than
MAX_CONCURRENT_SEARCHES; its query vector is computed before it takes that
slot (the embedder has its own bound).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

from govsearch.rules import normalize_text
from govsearch.schema import METADATA_FIELDS
from govsearch.settings import Settings
from service import facets, marks
from service.admission import Admission
from service.backend import Body, SearchBackend, SearchRejected, shards_failed
from service.errors import NOT_IN_TIME, ServiceUnavailable
from service.fusion import Candidate, Fused, calibrate_bm25, fuse, group_by_article, ranked
from service.pagecache import PageCache
from service.query import (
    EXACT_QUERY_NAME,
    SNIPPET_CHARS,
    SearchRequest,
    answering_search,
    bm25_search,
    exact_search,
    holds_wording,
    knn_search,
    page_hits_search,
)
from service.ranking import LearnedRanker, Reranker, plausible
from service.rankmemo import RankMemo
from service.spelling import Speller
from service.synonyms import Expansion, SynonymSet, added_terms
from service.understanding import Understanding, Understood

log = logging.getLogger(__name__)


@dataclass
class _Outcome:
    total: int
    ranked: list[Fused]  # the page's hits (bm25) or the whole fused list (vector, hybrid)
    facets: dict[str, list[dict[str, Any]]]
    paged: bool  # True when `ranked` is already the requested page
    ranking: str  # what ordered it: bm25, vector, fusion-<method> or the learned ranker's version
    partial: bool  # some shard did not answer in time or at all: results may be incomplete
    suggested: Body | None = None  # the typo check's answer, sent with the candidate search (`service.spelling`)


class QueryVectors(Protocol):
    """What the searcher needs of the query embedder (`service.embedding.QueryEmbedder`)."""

    async def embed(self, text: str) -> list[float]: ...

    async def refresh_model(self) -> None: ...


class SynonymRules(Protocol):
    """What the searcher needs of the synonym store (`service.synonyms.Synonyms`)."""

    async def current(self) -> SynonymSet: ...


class Searcher:
    """Runs a validated `SearchRequest` against a `SearchBackend` and shapes the response."""

    def __init__(self, backend: SearchBackend, embedder: QueryVectors, settings: Settings,
                 admission: Admission | None = None, ranker: Reranker | None = None,
                 synonyms: SynonymRules | None = None) -> None:
        self.backend = backend
        # The learned ranker's scores are remembered per exact input (`service.rankmemo`); another Reranker
        # (a training recorder) is asked every time.
        self.ranker = (RankMemo(ranker, settings.ranker_cache_size)
                       if isinstance(ranker, LearnedRanker) and settings.ranker_cache_size else ranker)
        self.synonyms = synonyms if settings.synonyms_enabled else None
        self.embedder = embedder
        self.settings = settings
        self.admission = admission or Admission(settings.max_concurrent_searches, settings.admission_queue_wait)
        self.page_cache = PageCache(settings.page_cache_size)
        self.speller = Speller(backend, settings.index_alias, settings.es_search_timeout)
        self.understanding = Understanding(backend, settings.index_alias, settings.es_search_timeout)

    def with_ranker(self, ranker: Reranker | None) -> Searcher:
        """This searcher with `ranker` in its ranker's place, all else as it is (backend, model, settings,
        search slots, synonym rules): what the trainer's recorder must see is what the service searches."""
        return Searcher(self.backend, self.embedder, self.settings, self.admission, ranker, self.synonyms)

    async def expansions(self, text: str) -> tuple[Expansion, ...]:
        """What the synonym rules add to `text` (normalised): none when SYNONYMS_ENABLED is false."""
        return tuple((await self.synonyms.current()).expand(text)) if self.synonyms else ()

    async def search(self, req: SearchRequest) -> dict[str, Any]:
        """The response for `req` within SEARCH_DEADLINE (else `ServiceUnavailable`); raises
        `service.admission.Overloaded` when no search slot frees in time (see `_answer`)."""
        try:
            async with asyncio.timeout(self.settings.search_deadline_seconds):
                return await self._answer(req)
        except TimeoutError:
            log.warning("search past SEARCH_DEADLINE (%.1f s): answering 503", self.settings.search_deadline_seconds)
            raise ServiceUnavailable(NOT_IN_TIME, es_kind="timeout") from None

    async def _answer(self, req: SearchRequest) -> dict[str, Any]:
        """The response for `req`.

        The text searched is `normalize_text(req.q)` (the index holds that form too); the response echoes
        `query` as typed. Date words and named towns are read out first (`service.understanding`), then the
        official terms for plain words added (`service.synonyms`, unless SYNONYMS_ENABLED is false); a typo
        correction (`service.spelling`) is looked for after the search, only when its passages lack a
        character pair of the query's words, from the suggester's answer the candidate search brought
        along (its request rides in the same `_msearch`)."""
        started = time.perf_counter()
        typed, req = req.q, replace(req, q=normalize_text(req.q))
        req, understood = await self.understanding.apply(req)
        expansions = await self.expansions(req.q)
        if expansions:
            req = replace(req, synonyms=added_terms(expansions),
                          rule_words=tuple(expansion.word for expansion in expansions))
            understood = replace(understood or Understood(text=req.q), synonyms=expansions)
        vector, degraded = await self._embed(req)
        async with self.admission.slot():
            dated = understood is not None and understood.date_from is not None
            (response, suggested, vector, degraded), answered = await asyncio.gather(
                self._search_current(req, started, vector, degraded), self._answers(req, ask=dated))
            # The date words' range holds nothing with the query's wording (every article of that time, or undated,
            # is out): its words at any time rather than an empty page or strays — unless they are nowhere either
            # (a town filter, say, empties the page, not the date).
            if understood is not None and not answered:
                anytime = replace(req, filters=replace(req.filters, date_from=None, date_to=None))
                if await self._answers(anytime):
                    req, understood = anytime, replace(understood, date_applied=False)
                    response, suggested, vector, degraded = await self._search_current(req, started, vector,
                                                                                       degraded)
            did_you_mean = await self._did_you_mean(req, [hit["text"] for hit in response["hits"]], suggested)
        return {**response, "query": typed, "did_you_mean": did_you_mean,
                "understood": understood and understood.as_json()}

    async def _answers(self, req: SearchRequest, *, ask: bool = True) -> bool:
        """Whether some article within `req`'s filters holds the query's wording (`query.answering_search`);
        True, unasked, when `ask` is false."""
        if not ask:
            return True
        (response,) = await self._msearch(answering_search(req, timeout=self.settings.es_search_timeout))
        return bool(response["hits"]["total"]["value"])

    async def _search_current(self, req: SearchRequest, started: float, vector: list[float] | None,
                              degraded: str | None) -> tuple[dict[str, Any], Body | None, list[float] | None,
                                                             str | None]:
        """`_search`, with the query vector of the live index's model: a search refused because the alias moved
        to an index of another model (its vectors another size) since the embedder last read it runs once
        more with the query embedded by the live model (or none in time: BM25 only). Also returns the vector and
        degradation it was searched with."""
        try:
            response, suggested = await self._search(req, started, vector, degraded)
        except SearchRejected:
            if vector is None:
                raise
            await self.embedder.refresh_model()
            again, degraded = await self._embed(req)
            if again == vector:
                raise
            log.warning("the live index's embedding model changed; searching again with its query vector")
            vector = again
            response, suggested = await self._search(req, started, vector, degraded)
        return response, suggested, vector, degraded

    async def _did_you_mean(self, req: SearchRequest, found: list[str], suggested: Body | None) -> str | None:
        """The typo check is an aid: when its own request fails (a phrase count past ES_REQUEST_TIMEOUT on a
        busy node), the search still answers, without a correction."""
        try:
            return await self.speller.did_you_mean(req.q, found, suggested, known=req.rule_words)
        except Exception:
            log.warning("typo check failed; answering without did_you_mean", exc_info=True)
            return None

    async def _embed(self, req: SearchRequest) -> tuple[list[float] | None, str | None]:
        """The query vector of a vector or hybrid search, or None and why the search degrades to BM25.

        Computed before the search takes its admission slot: the slots bound what Elasticsearch works on at
        once, and the embedder bounds its own computations (MAX_CONCURRENT_EMBEDDINGS) and embeds the queries
        that arrive together in one pass (`service.embedding.QueryEmbedder`), so no slot is held meanwhile."""
        if req.mode == "bm25" or (req.mode == "hybrid" and req.sort == "date") or not _WORDED.search(req.q):
            # bm25, and hybrid by date, order by words alone (`_by_date`). A query of only punctuation, symbols or
            # emoji: nothing a vector could stand for, and nothing BM25 matches, so the answer is empty rather than
            # the vector side's nearest articles to noise.
            return None, None
        try:
            return await self.embedder.embed(req.q), None
        except TimeoutError:
            log.warning("query embedding took longer than %.2f s; answering with BM25 only",
                        self.settings.query_embedding_timeout)
            return None, (f"query embedding took longer than {self.settings.query_embedding_timeout:g} s; "
                          "results are BM25 only")
        except Exception as exc:  # the model failing must not take search down
            log.exception("query embedding failed; answering with BM25 only")
            return None, f"embedding model unavailable ({type(exc).__name__}); results are BM25 only"

    async def _search(self, req: SearchRequest, started: float, vector: list[float] | None,
                      degraded: str | None) -> tuple[dict[str, Any], Body | None]:
        """The response and the typo check's answer that came back with the candidates (None: not asked);
        `vector` is the query's (None: BM25 only, `degraded` says why when it should have been there)."""
        typo = self.speller.request(req.q, known=req.rule_words)
        if req.sort == "date" and (req.mode != "vector" or vector is None):
            outcome = await self._by_date(req, typo)
        elif req.mode == "bm25" or vector is None:
            outcome = await self._bm25(req, typo)
        elif req.mode == "vector":
            outcome = await self._vector(req, vector, typo)
        else:
            outcome = await self._hybrid(req, vector, typo)

        partial = outcome.partial
        if outcome.paged:
            page = outcome.ranked
        else:
            start = (req.page - 1) * req.size
            page, partial_page = await self._fetch_page(req, outcome.ranked[start:start + req.size])
            partial = partial or partial_page
        if partial and degraded is None:
            degraded = "some index shards did not answer in time; results may be incomplete"
        response: dict[str, Any] = {
            "query": req.q,
            "mode": req.mode,
            "total": outcome.total,
            "page": req.page,
            "size": req.size,
            "took_ms": round((time.perf_counter() - started) * 1000, 1),
            "hits": [_hit(entry, req.q, req.synonyms) for entry in page],
            "facets": outcome.facets,
            "degraded": degraded is not None,
            "ranking": outcome.ranking,
        }
        if degraded:
            response["degraded_reason"] = degraded
        return response, outcome.suggested

    async def _msearch(self, *bodies: Body, index: str | None = None) -> list[Body]:
        responses = await self.backend.msearch(index or self.settings.index_alias, bodies)
        if any(response.get("timed_out") for response in responses):
            log.warning("Elasticsearch search timeout (%.2f s) reached: answering with partial results",
                        self.settings.es_search_timeout)
        return responses

    async def _candidates(self, bodies: list[Body], typo: Body | None) -> tuple[list[Body], Body | None]:
        """The responses to the candidate search's `bodies`, with the typo check's request `typo` (if any)
        sent in the same round trip; its answer apart."""
        if typo is None:
            return await self._msearch(*bodies), None
        *responses, suggested = await self._msearch(*bodies, typo)
        return responses, suggested

    async def _fetch_page(self, req: SearchRequest, page: list[Fused]) -> tuple[list[Fused], bool]:
        """The page's hits whole and highlighted, and whether that answer was partial. Passages kept from an
        earlier page fetch for the same version and highlight query (`service.pagecache`) are taken from
        there; one request fetches the rest by id, from the index that answered the candidate search (not
        the alias, which may have moved). Kept hits are shared: read, never modified."""
        kept = [self.page_cache.get(self.page_cache.key(entry.candidate, req.q, req.synonyms)) for entry in page]
        wanted = [entry.candidate for entry, hit in zip(page, kept) if hit is None and entry.candidate.doc_id]
        fetched: dict[str, Body] = {}
        partial = False
        if wanted:
            index = ",".join(sorted({c.index for c in wanted if c.index})) or None
            body = page_hits_search(req.q, [c.doc_id for c in wanted], timeout=self.settings.es_search_timeout,
                                    synonyms=req.synonyms)
            (response,) = await self._msearch(body, index=index)
            partial = _partial(response)
            for hit in response["hits"]["hits"]:
                fetched[hit["_id"]] = hit
                self.page_cache.put(self.page_cache.hit_key(hit, req.q, req.synonyms), hit)
        shown: list[Fused] = []
        for entry, hit in zip(page, kept):
            if hit is None and entry.candidate.doc_id:
                hit = fetched.get(entry.candidate.doc_id)
                if hit is None:  # deleted since the candidate search
                    log.warning("passage %s vanished between candidate and page fetch", entry.candidate.doc_id)
            if hit is None:  # show what is known, no text
                shown.append(entry)
                continue
            fragments = hit.get("highlight", {}).get("text")
            candidate = replace(entry.candidate, source=hit["_source"], highlight=fragments[0] if fragments else None)
            shown.append(replace(entry, candidate=candidate))
        return shown, partial

    async def _bm25(self, req: SearchRequest, typo: Body | None) -> _Outcome:
        body = bm25_search(req, offset=(req.page - 1) * req.size, limit=req.size, with_aggs=True,
                           timeout=self.settings.es_search_timeout)
        (response,), suggested = await self._candidates([body], typo)
        candidates = group_by_article(response["hits"]["hits"], exact_query=EXACT_QUERY_NAME)
        entries = [Fused(c.article_id, calibrate_bm25(c.score), c, {"bm25": i}, c.exact)
                   for i, c in enumerate(candidates, start=1 + (req.page - 1) * req.size)]
        total, counts = facets.from_aggregations(response["aggregations"])
        return _Outcome(total, entries, counts, paged=True, ranking="bm25", partial=_partial(response),
                        suggested=suggested)

    async def _by_date(self, req: SearchRequest, typo: Body | None) -> _Outcome:
        """Newest first (bm25 and hybrid modes): the articles that hold the query's wording as typed, or, when none
        does, as words (`query.dated_clauses`); `total` and the facets count that set. Never the articles sharing
        one pair of characters with the query (分类 of 垃圾分类), which the relevance order keeps below every better
        match, nor those only near in meaning: a date order has no relevance to put them below."""
        offset = (req.page - 1) * req.size
        suggested: Body | None = None
        for match in ("typed", "worded"):
            body = bm25_search(req, offset=offset, limit=req.size, with_aggs=True, match=match,
                               timeout=self.settings.es_search_timeout)
            (response,), answer = await self._candidates([body], typo)
            if typo is not None:  # the typo check rides along the first request only
                suggested, typo = answer, None
            total, counts = facets.from_aggregations(response["aggregations"])
            if total or match == "worded":
                break
        candidates = group_by_article(response["hits"]["hits"], exact_query=EXACT_QUERY_NAME)
        entries = [Fused(c.article_id, calibrate_bm25(c.score), c, {"bm25": i}, c.exact)
                   for i, c in enumerate(candidates, start=1 + offset)]
        return _Outcome(total, entries, counts, paged=True, ranking="date", partial=_partial(response),
                        suggested=suggested)

    def _knn(self, req: SearchRequest, vector: list[float]) -> dict[str, Any]:
        # kNN finds passages; twice the article depth of them, so that collapsing by article still fills it.
        depth = self.settings.candidate_depth
        return knn_search(req, vector, k=min(depth * 2, 10_000), articles=depth,
                          num_candidates=self.settings.knn_num_candidates,
                          min_similarity=self.settings.vector_min_similarity,
                          timeout=self.settings.es_search_timeout)

    async def _vector(self, req: SearchRequest, vector: list[float], typo: Body | None) -> _Outcome:
        (exact, knn), suggested = await self._candidates(
            [exact_search(req, timeout=self.settings.es_search_timeout), self._knn(req, vector)], typo)
        pinned = group_by_article(exact["hits"]["hits"], exact_query=EXACT_QUERY_NAME)
        candidates = group_by_article(knn["hits"]["hits"])
        return replace(self._paged_here(req, ranked(candidates, "vector", pinned), "vector", _partial(exact, knn)),
                       suggested=suggested)

    async def _hybrid(self, req: SearchRequest, vector: list[float], typo: Body | None) -> _Outcome:
        depth = self.settings.candidate_depth
        # The BM25 list is a relevance ranking to fuse, whatever order the page is shown in.
        by_relevance = replace(req, sort="relevance")
        (bm25, knn), suggested = await self._candidates([
            bm25_search(by_relevance, offset=0, limit=depth, with_aggs=False, candidates=True,
                        timeout=self.settings.es_search_timeout),
            self._knn(req, vector),
        ], typo)
        lists: dict[str, list[Candidate]] = {
            "bm25": group_by_article(bm25["hits"]["hits"], exact_query=EXACT_QUERY_NAME),
            "vector": group_by_article(knn["hits"]["hits"]),
        }
        weights = {"bm25": self.settings.bm25_weight, "vector": self.settings.vector_weight}
        fused = fuse(lists, method=self.settings.fusion, weights=weights, rrf_k=self.settings.rrf_k)
        return replace(self._paged_here(req, *self._order(req, fused, lists), partial=_partial(bm25, knn)),
                       suggested=suggested)

    def _order(self, req: SearchRequest, fused: list[Fused], lists: dict[str, list[Candidate]]) -> tuple[
            list[Fused], str]:
        """The ranking stage (`service.ranking`): drop implausible vector-only hits, then let the learned
        ranker order the rest; fusion's order (and name) when there is no ranker or it fails."""
        fused = plausible(req.q, fused, lists, min_similarity=self.settings.vector_only_min_similarity,
                          top_rank=self.settings.vector_only_top_rank)
        if self.ranker is not None:
            reranked = self.ranker.rerank(req.q, fused, lists, self.settings.candidate_depth)
            if reranked is not None:
                return reranked, self.ranker.name
        return fused, f"fusion-{self.settings.fusion}"

    def _paged_here(self, req: SearchRequest, entries: list[Fused], ranking: str, partial: bool) -> _Outcome:
        if req.sort == "date":
            entries = sorted(entries, key=lambda e: (e.candidate.source.get("date") or "", e.score), reverse=True)
        return _Outcome(len(entries), entries, facets.count(e.candidate.source for e in entries), paged=False,
                        ranking=ranking, partial=partial)


_WORDED = re.compile(r"[^\W_]")
"""A letter or digit of any script (Chinese characters included): something a query can mean."""


def _partial(*responses: Body) -> bool:
    """Whether any of `responses` lacks some shard's answer: timed out (ES_SEARCH_TIMEOUT) or a shard failed."""
    return any(response.get("timed_out") or shards_failed(response) for response in responses)


def _hit(entry: Fused, q: str, synonyms: tuple[str, ...]) -> dict[str, Any]:
    source = entry.candidate.source
    text = source.get("text", "")
    highlighted = entry.candidate.highlight
    # Found by the word search through the query's wording, not single characters of it (the label; the snippet's
    # fallback marks): `query.holds_wording`.
    words_found = entry.exact or ("bm25" in entry.ranks and holds_wording(q, entry.candidate.clauses))
    snippet = marks.snippet(highlighted, text, q, synonyms, SNIPPET_CHARS, words_found=words_found)
    title = source.get("title", "")
    # The query's text in the title, marked by the service (a highlight of the title field by the node would re-run
    # the word segmenter over every hit's title: +11 ms of node time per bm25 page, measured, for the same marks).
    title_snippet = marks.snippet(None, title, q, synonyms, len(title), words_found=words_found)
    return {
        **{name: source.get(name) for name in METADATA_FIELDS},
        "title": title,
        "id": entry.article_id,
        "snippet": snippet,
        "title_snippet": title_snippet,
        "text": text,
        "score": round(entry.score, 4),
        "match": "words" if words_found or marks.PRE_TAG in snippet + title_snippet else "meaning",
    }
