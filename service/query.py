"""Every Elasticsearch request body the service sends, built from validated parameters:
the two retrievers (BM25, kNN), the known-item lookup, the page's hits, suggestions, the
article view and its related articles.

Candidate searches (the retrievers' lists that fusion ranks) are lean: no highlighting and no
stored field read, only a few doc values (`CANDIDATE_HIT`). Only the ≤ size passages a page shows are then fetched
whole and highlighted (`page_hits_search`), unless the service holds them already for that
passage version (`service.pagecache`: candidates and page hits report `_seq_no` and
`_primary_term`). Every body carries Elasticsearch's own `timeout`.

User text only ever reaches Elasticsearch inside `match`, `match_phrase` and
`term` queries, never a query-string parser, so `*:*`, `title:(a OR b)` or
quotes are just characters to search for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from govsearch.actions import article_doc_id, passage_doc_id
from govsearch.pinyin import INITIALS_FIELD, PINYIN_FIELD
from govsearch.rules import asked, normalize_doc_number
from govsearch.schema import HIT_SOURCE_FIELDS, MAX_PASSAGES, METADATA_FIELDS, PASSAGE_SPAN_FIELDS
from service import facets
from service.marks import POST_TAG, PRE_TAG

SOURCE_FIELDS = list(HIT_SOURCE_FIELDS)
# What fusion, facets, the date sort and the ranker's features read of a candidate passage (group by
# article_id; facets publisher/department/year-from-date; sort by date; title, position, passage_count:
# service.features), as doc values: doc-values field -> its name in the candidate's source. The title is
# its `exact` keyword, lower-cased as the features read it (a title past that keyword's `ignore_above`
# comes without one). The hit shown is fetched afterwards, whole.
CANDIDATE_DOC_VALUES: dict[str, str] = {
    "article_id": "article_id", "date": "date", "publisher": "publisher", "department": "department",
    "town": "town", "title.exact": "title", "position": "position", "passage_count": "passage_count",
}
# A candidate hit reads no stored field: a passage's stored fields hold its `_source` and the
# `_recovery_source` Elasticsearch keeps beside it (the passage with its vector, since `_source` excludes
# the vector), and decompressing them was about half of a kNN candidate search's node CPU
# (bench/results/perf-notes.md, "candidates from doc values"). Without `_id` either: `hit_source` rebuilds it.
CANDIDATE_HIT: dict[str, Any] = {"_source": False, "stored_fields": "_none_",
                                 "docvalue_fields": list(CANDIDATE_DOC_VALUES)}


SNIPPET_CHARS = 160

EXACT_QUERY_NAME = "exact"
# The BM25 request's clauses by name: every hit reports each matching clause's own score
# (`matched_queries`, asked for with `include_named_queries_score`), which the ranker reads as features.
BM25_CLAUSES = ("words", "bigrams", "bigrams_any", "title_phrase", "text_phrase")
LOOSE_CLAUSE = "bigrams_any"  # `_loose_clause`: any one of the query's character pairs
SYNONYM_CLAUSE = "synonym"  # `synonym_clauses`: an official term a synonym rule adds
DATED_CLAUSE = "dated"  # `dated_clauses`: the date-sorted lists' match, which holds the query's wording
# Zero-weight clauses the ranker reads as matched or not (they never change a BM25 score): each of the
# query's first MAX_COVERAGE_SEGMENTS space-separated parts as a phrase in the title or text
# (`segment_0`, ...), and NEAR_CLAUSE: every query word within NEAR_SLOP positions of the text.
MAX_COVERAGE_SEGMENTS = 8
SEGMENT_CLAUSE = "segment_{}"
NEAR_CLAUSE = "near"
NEAR_SLOP = 30


@dataclass(frozen=True)
class Filters:
    publisher: tuple[str, ...] = ()
    town: tuple[str, ...] = ()
    department: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None

    def clauses(self) -> list[dict[str, Any]]:
        """Filter clauses shared by every request, so both retrievers search the same subset."""
        clauses: list[dict[str, Any]] = [{"term": {"doc_type": "passage"}}]
        for name in ("publisher", "town", "department"):
            values = getattr(self, name)
            if values:
                clauses.append({"terms": {name: list(values)}})
        if self.date_from or self.date_to:
            bounds: dict[str, str] = {}
            if self.date_from:
                bounds["gte"] = self.date_from.isoformat()
            if self.date_to:
                bounds["lte"] = self.date_to.isoformat()
            clauses.append({"range": {"date": bounds}})
        return clauses


@dataclass(frozen=True)
class SearchRequest:
    q: str
    mode: str = "hybrid"
    size: int = 10
    page: int = 1
    sort: str = "relevance"
    filters: Filters = field(default_factory=Filters)
    boost: tuple[str, str] | None = None  # (field, value): a town or publisher the query names (understanding)
    synonyms: tuple[str, ...] = ()  # official terms the query's plain words stand for (service.synonyms)
    rule_words: tuple[str, ...] = ()  # those plain words: known vocabulary, never corrected as typos


def exact_clauses(q: str) -> list[dict[str, Any]]:
    """A query that *is* an article title or a document number names one article: put it first."""
    return [
        {"term": {"title.exact": {"value": q.lower(), "boost": 100, "_name": EXACT_QUERY_NAME}}},
        {"term": {"doc_number": {"value": normalize_doc_number(q), "boost": 100, "_name": EXACT_QUERY_NAME}}},
    ]


# Weight of the loose "any character bigram" clause relative to the strict ones. Low on purpose: it
# only has to order articles that share a word or two with a query worded differently (拆除违章建筑 for
# an article on 拆违 and 拆除, 哪里可以免费义诊？ for 义诊); whatever matches most of the query outranks them.
# Measured with `python -m bench.relevance` (bench/results/relevance.md, tuning log): without it 23 of
# 28 paraphrase queries found nothing at all in bm25 mode; any value in 0.15-1.0 scored the same.
LOOSE_BOOST = 0.3


# What naming a town or publisher adds to the BM25 score of its articles: a constant, about one strong
# word match (scores on the sample run 15-45), so among comparable matches the named town's come first.
NAMED_BOOST = 10.0


# Weight of an official term a synonym rule adds (老人 → 老年人), as a phrase over title and text: enough to
# bring an article that uses only the official term into the list, low enough that one matching the typed
# words (which keep their full weight) stays above it. Measured with `python -m bench.relevance
# --compare-synonyms` (bench/results/relevance-synonyms.md).
SYNONYM_BOOST = 0.5


def synonym_clauses(terms: tuple[str, ...]) -> list[dict[str, Any]]:
    """One low-weight phrase clause per official term (`service.synonyms`)."""
    return [{"multi_match": {"query": term, "type": "phrase", "fields": ["title^3", "text"], "boost": SYNONYM_BOOST,
                             "_name": SYNONYM_CLAUSE}} for term in terms]


WORDING_CLAUSES = frozenset({"bigrams", LOOSE_CLAUSE, SYNONYM_CLAUSE, EXACT_QUERY_NAME, DATED_CLAUSE})
"""The named clauses a passage holding the query's wording matches (`holds_wording`)."""


def holds_wording(q: str, clauses: dict[str, float]) -> bool:
    """Whether a passage the BM25 query matched through `clauses` (named clause → score) holds the (normalised)
    query's wording: two of its characters in a row, an official term of a synonym rule, or the exact title or
    number — or any word of it, when the query asks for single characters. One matched through single characters
    only does not: 多 and 巴 of 多巴胺, which smartcn splits into characters, in 巴基斯坦 news."""
    return (not any(len(part) > 1 for part in q.split())
            or not WORDING_CLAUSES.isdisjoint(clauses))


def _words_clause(q: str) -> dict[str, Any]:
    """Most of the query's words (smartcn), term-centric across title and text: each may match in either."""
    return {"multi_match": {"query": q, "type": "cross_fields", "fields": ["title^3", "text"],
                            "minimum_should_match": "2<75%", "_name": "words"}}


def _bigrams_clause(q: str) -> dict[str, Any]:
    """Most of the query's character pairs, across title and text."""
    return {"multi_match": {"query": q, "type": "cross_fields", "fields": ["title.bigram^1.5", "text.bigram^0.5"],
                            "minimum_should_match": "3<60%", "_name": "bigrams"}}


def _loose_clause(q: str) -> dict[str, Any]:
    """Any one of the query's character pairs in a row (a lone character: itself), in the title or the text, at
    LOOSE_BOOST: the articles that share some of the query's wording."""
    return {"multi_match": {"query": q, "type": "cross_fields", "fields": ["title.bigram^1.5", "text.bigram^0.5"],
                            "minimum_should_match": 1, "boost": LOOSE_BOOST, "_name": LOOSE_CLAUSE}}


def answering_search(req: SearchRequest, *, timeout: float) -> dict[str, Any]:
    """Whether some passage within `req`'s filters holds the query's wording as a date-sorted list reads it
    (`dated_clauses`: every part as typed, or most of each part's words and pairs, or a synonym rule's term), or is
    the exact title or document number. One sharing a common pair of characters only (人民 of 人民代表大会) or single
    characters (有, 事 and 好 of 有事好商量) does not. No hit is read; the count stops at the first (`service.search`:
    whether a date the query names answers it)."""
    return {
        "size": 0,
        "track_total_hits": 1,
        "timeout": es_timeout(timeout),
        "query": {"bool": {"filter": req.filters.clauses(), "minimum_should_match": 1,
                           "should": [*dated_clauses(req.q, req.synonyms, "typed"),
                                      *dated_clauses(req.q, req.synonyms, "worded"), *exact_clauses(req.q)]}},
    }


def coverage_segments(q: str) -> list[str]:
    """The parts of what the query asks about (`rules.asked`: its space-separated parts, asking and framing words left
    out) the coverage clauses look for: distinct, in order, at most MAX_COVERAGE_SEGMENTS (clause `segment_i` is part
    i)."""
    return list(dict.fromkeys(asked(q).split()))[:MAX_COVERAGE_SEGMENTS]


def verbatim(part: str, **options: Any) -> dict[str, Any]:
    """A passage holding `part` as typed, in its title or text: its characters in a row (a phrase of the character-pair
    fields: 修路 however the segmenter splits the text around it, 个税 not the 税 the word fields keep of it, 个 being a
    stop word), a part of one character as a word. `options`: the clause's own (boost, _name)."""
    fields = ["title.bigram", "text.bigram"] if len(part) > 1 else ["title", "text"]
    return {"multi_match": {"query": part, "type": "phrase", "fields": fields, **options}}


def coverage_clauses(q: str) -> list[dict[str, Any]]:
    """The zero-weight named clauses of which parts of the query a passage holds verbatim, and how close together
    (see SEGMENT_CLAUSE, NEAR_CLAUSE): matched or not is all they report."""
    segments = [verbatim(part, boost=0, _name=SEGMENT_CLAUSE.format(i)) for i, part in enumerate(coverage_segments(q))]
    return [*segments, {"match_phrase": {"text": {"query": asked(q), "slop": NEAR_SLOP, "boost": 0,
                                                  "_name": NEAR_CLAUSE}}}]


Match = Literal["ranked", "typed", "worded"]
"""Which articles a BM25 request finds (`bm25_query`): `ranked`, the relevance ranking's, also those sharing one
character pair; `typed` and `worded`, the date-sorted lists' (`dated_clauses`, `service.search`)."""


def dated_clauses(q: str, synonyms: tuple[str, ...], match: Literal["typed", "worded"]) -> list[dict[str, Any]]:
    """What a passage of a date-sorted list must match (`Match`), named DATED_CLAUSE. `typed`: each part of what the
    query asks about as typed (`verbatim`). `worded`: for each part, most of its words and most of its pairs, or an
    official term of a synonym rule. A part of punctuation or stop words alone (？, 的) matches nothing, so neither
    does a query of them."""
    parts = dict.fromkeys(asked(q).split())
    held: list[dict[str, Any]]
    if match == "typed":
        held = [verbatim(part) for part in parts]
    else:
        held = [{"bool": {"should": [
            {"bool": {"must": [_words_clause(part), _bigrams_clause(part)]}},
            *synonym_clauses(synonyms),
        ], "minimum_should_match": 1}} for part in parts]
    return [{"bool": {"must": held, "_name": DATED_CLAUSE}}]


def bm25_query(q: str, filters: Filters, boost: tuple[str, str] | None = None,
               synonyms: tuple[str, ...] = (), coverage: bool = False, match: Match = "ranked") -> dict[str, Any]:
    """Word matches (smartcn) carry the score; character bigrams add recall for names and
    words the segmenter splits differently; phrases and the title lift the best matches.

    Strict clauses (most of the query's words or bigrams) carry the score; a loose, low-weight
    clause (any one bigram) keeps articles that share only part of the wording in the list,
    below every strict match of comparable strength. `synonyms` (official terms for the query's
    plain words) are further recall clauses of their own, at SYNONYM_BOOST. `coverage` adds the
    zero-weight clauses the ranker reads (`coverage_clauses`): they never change a score or the order.
    `match` (`Match`): other than `ranked`, the date-sorted lists' match alone (`dated_clauses`)."""
    if match != "ranked":
        return {"bool": {"must": dated_clauses(q, synonyms, match), "filter": filters.clauses()}}
    about = asked(q)  # the words match what the query asks about: 垃圾分类, not 请问, 怎么, 做 (exact title: typed)
    recall = [
        _words_clause(about),
        _bigrams_clause(about),
        # Loose: any bigram, so a query in other words still finds the articles sharing some of it.
        _loose_clause(about),
        *synonym_clauses(synonyms),
    ]
    precision = [
        {"match_phrase": {"title": {"query": about, "slop": 1, "boost": 4.0, "_name": "title_phrase"}}},
        {"match_phrase": {"text": {"query": about, "slop": 2, "boost": 2.0, "_name": "text_phrase"}}},
        *exact_clauses(q),
        *(coverage_clauses(q) if coverage else []),
    ]
    if boost:
        precision.append({"constant_score": {"filter": {"term": {boost[0]: boost[1]}}, "boost": NAMED_BOOST}})
    return {
        "bool": {
            "must": [{"bool": {"should": recall, "minimum_should_match": 1}}],
            "should": precision,
            "filter": filters.clauses(),
        }
    }


def highlight(q: str, synonyms: tuple[str, ...] = (), *, whole: bool = False) -> dict[str, Any]:
    """Highlight the query's words (and the official terms searched for them) in the passage, also for
    hits found only by the vector side: the highlight query is the word match, whatever retrieved the
    passage. A snippet: the passage's best fragment; `whole`: the whole text and the title (the article
    view's marks). Either way the marks are read through `service.marks.tidy`."""
    words: dict[str, Any] = {"match": {"text": {"query": asked(q)}}}
    if synonyms:
        words = {"bool": {"should": [words, *({"match_phrase": {"text": term}} for term in synonyms)]}}
    fields: dict[str, Any] = (
        {name: {"type": "unified", "number_of_fragments": 0} for name in ("text", "title")} if whole else
        {"text": {"type": "unified", "fragment_size": SNIPPET_CHARS, "number_of_fragments": 1,
                  "no_match_size": SNIPPET_CHARS}})
    return {
        "encoder": "html",
        "pre_tags": [PRE_TAG],
        "post_tags": [POST_TAG],
        "highlight_query": words,
        # The title is marked by the text's query (`whole`).
        "require_field_match": False,
        "fields": fields,
    }


def es_timeout(seconds: float) -> str:
    """Elasticsearch's time unit for a search `timeout`: whole milliseconds, at least 1."""
    return f"{max(1, round(seconds * 1000))}ms"


def hit_source(hit: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A search hit's source fields and document id: as loaded, when the search read `_source`; for a
    candidate hit (`CANDIDATE_HIT`), its doc values under their source names (one value each; a field the
    passage lacks stays out, as `_source` leaves it null) and its passage id rebuilt as the indexer makes it
    (`passage_doc_id`: candidate searches find passages only)."""
    if "_source" in hit:
        return hit["_source"], hit.get("_id", "")
    fields = hit.get("fields", {})
    source = {name: fields[field][0] for field, name in CANDIDATE_DOC_VALUES.items() if fields.get(field)}
    return source, passage_doc_id(source["article_id"], int(source["position"]))


def bm25_search(req: SearchRequest, *, offset: int, limit: int, with_aggs: bool, timeout: float,
                candidates: bool = False, match: Match = "ranked") -> dict[str, Any]:
    """Passages grouped by article with `collapse`: one hit per article, its best passage.

    `candidates=True`: a fusion candidate list (`CANDIDATE_HIT`, no highlight, the ranker's coverage
    clauses, each passage's version); otherwise the page itself (≤ size hits, whole and highlighted: it is
    already the page). `match`: which articles (`Match`)."""
    body: dict[str, Any] = {
        "query": bm25_query(req.q, req.filters, req.boost, req.synonyms, coverage=candidates, match=match),
        "collapse": {"field": "article_id"},
        "from": offset,
        "size": limit,
        **(CANDIDATE_HIT if candidates else {"_source": SOURCE_FIELDS}),
        "track_total_hits": False,
        "sort": _sort(req.sort),
        "timeout": es_timeout(timeout),
    }
    if candidates:
        body["seq_no_primary_term"] = True  # the passage's version (`service.pagecache`)
    else:
        body["highlight"] = highlight(req.q, req.synonyms)
    if with_aggs:
        body["aggs"] = facets.aggregations()
    return body


def knn_search(req: SearchRequest, vector: list[float], *, k: int, articles: int, num_candidates: int,
               min_similarity: float, timeout: float) -> dict[str, Any]:
    """The vector side's candidates (`CANDIDATE_HIT`, no highlight, each passage's version): the `k` nearest
    passages, collapsed by article — each article's nearest passage, at most `articles` of them, nearest
    first. The node collapses the k passages it found, so only the hits kept are fetched and sent."""
    return {
        "knn": {
            "field": "vector",
            "query_vector": vector,
            "k": k,
            "num_candidates": max(num_candidates, k),
            "filter": req.filters.clauses(),
            "similarity": min_similarity,
        },
        "collapse": {"field": "article_id"},
        "size": articles,
        **CANDIDATE_HIT,
        "seq_no_primary_term": True,
        "track_total_hits": False,
        "timeout": es_timeout(timeout),
    }


def exact_search(req: SearchRequest, *, timeout: float) -> dict[str, Any]:
    """The known-item lookup alone, for the vector mode (hybrid and bm25 have it inside BM25)."""
    return {
        "query": {"bool": {"should": exact_clauses(req.q), "minimum_should_match": 1,
                           "filter": req.filters.clauses()}},
        "collapse": {"field": "article_id"},
        "size": 5,
        **CANDIDATE_HIT,
        "seq_no_primary_term": True,
        "track_total_hits": False,
        "timeout": es_timeout(timeout),
    }


def page_hits_search(q: str, passage_ids: list[str], *, timeout: float,
                     synonyms: tuple[str, ...] = ()) -> dict[str, Any]:
    """The page's passages (the winning passage of each article shown, by document id), whole and
    with the query's words highlighted, each with its version (`service.pagecache` keeps them by it):
    the one request of a fused page that reads text."""
    return {
        "query": {"ids": {"values": list(passage_ids)}},
        "size": len(passage_ids),
        "_source": SOURCE_FIELDS,
        "highlight": highlight(q, synonyms),
        "seq_no_primary_term": True,
        "track_total_hits": False,
        "timeout": es_timeout(timeout),
    }


SHARED_WORDS_CLAUSE = "shared_words"
"""The name of the title suggestions' loose clause (titles sharing three quarters of the typed text's
character pairs): a title only it matched is shown only when no title contains the text
(`service.suggest.suggest_titles`)."""


def suggest_search(text: str, size: int, *, timeout: float) -> dict[str, Any]:
    """Titles for what has been typed: titles containing it (the last word as a prefix) first,
    then titles sharing three quarters of its character pairs (SHARED_WORDS_CLAUSE); one suggestion per article,
    newer first on ties. Every clause is named, so each hit says which matched."""
    return {
        "size": size,
        "_source": ["article_id", "title"],
        "query": {"bool": {
            "filter": [{"term": {"doc_type": "passage"}}],
            "should": [
                {"prefix": {"title.exact": {"value": text.lower(), "boost": 4, "_name": "title_prefix"}}},
                {"match_phrase_prefix": {"title": {"query": text, "boost": 2, "_name": "words_prefix"}}},
                {"match_phrase_prefix": {"title.bigram": {"query": text, "max_expansions": 50, "boost": 2,
                                                          "_name": "characters_prefix"}}},
                # Titles sharing most of the words, so a longer query still gets suggestions.
                {"match": {"title.bigram": {"query": text, "minimum_should_match": "75%",
                                            "_name": SHARED_WORDS_CLAUSE}}},
            ],
            "minimum_should_match": 1,
        }},
        "collapse": {"field": "article_id"},
        "sort": ["_score", {"date": {"order": "desc", "missing": "_last"}}],
        "timeout": es_timeout(timeout),
    }


def pinyin_suggest_search(form: str, size: int, *, timeout: float) -> dict[str, Any]:
    """Titles for pinyin typed so far (`govsearch.pinyin.query_form`: "anquan", "aqsc", 安quan → "anquan"):
    a title word whose full pinyin starts with it counts double, one whose initials do once; newer first
    on ties. Article documents carry the forms, so each article is one hit."""
    return {
        "size": size,
        "_source": ["article_id", "title"],
        "query": {"bool": {
            "filter": [{"term": {"doc_type": "article"}}],
            "should": [
                {"prefix": {PINYIN_FIELD: {"value": form, "boost": 2}}},
                {"prefix": {INITIALS_FIELD: {"value": form}}},
            ],
            "minimum_should_match": 1,
        }},
        "sort": ["_score", {"date": {"order": "desc", "missing": "_last"}}, {"article_id": "asc"}],
        "track_total_hits": False,
        "timeout": es_timeout(timeout),
    }


def known_names_search(*, timeout: float) -> dict[str, Any]:
    """Every town and publisher value in the index (query understanding recognises them in queries)."""
    return {
        "size": 0,
        "timeout": es_timeout(timeout),
        "query": {"term": {"doc_type": "article"}},
        "aggs": {name: {"terms": {"field": name, "size": 1000}} for name in ("publisher", "town")},
    }


def shown_queries_search(size: int, *, days: int, min_searchers: int, per_day: bool) -> dict[str, Any]:
    """The search log's `size` most frequent queries of the last `days` days that found an article holding
    their words (`matched`; searches logged before it was recorded count when they found anything) and were
    offered no correction, each searched at least `min_searchers` times, with how many different searchers
    (`service.analytics.shown` keeps those with at least `min_searchers`) and, with `per_day`, its searches
    per day (for the suggestions' recency decay)."""
    aggs: dict[str, Any] = {"searchers": {"cardinality": {"field": "searcher"}}}
    if per_day:
        aggs["days"] = {"date_histogram": {"field": "timestamp", "calendar_interval": "day", "min_doc_count": 1}}
    return {
        "size": 0,
        "query": {"bool": {"filter": [{"term": {"kind": "search"}}, {"range": {"total": {"gt": 0}}},
                                      {"range": {"timestamp": {"gte": f"now-{days}d"}}}],
                           "must_not": [{"term": {"corrected": True}}, {"term": {"matched": False}}]}},
        "aggs": {"queries": {"terms": {"field": "query", "size": size, "min_doc_count": min_searchers},
                             "aggs": aggs}},
    }


def analytics_search(size: int, *, days: int) -> dict[str, Any]:
    """The search log's totals, top queries (searches and clicks each) and zero-result queries."""
    search, click = {"term": {"kind": "search"}}, {"term": {"kind": "click"}}
    return {
        "size": 0,
        "query": {"range": {"timestamp": {"gte": f"now-{days}d"}}},
        "aggs": {
            "searches": {"filter": search},
            "clicks": {"filter": click},
            "top": {"terms": {"field": "query", "size": size, "order": {"searched": "desc"}},
                    "aggs": {"searched": {"filter": search}, "clicked": {"filter": click}}},
            "zero": {"filter": {"bool": {"filter": [search, {"term": {"total": 0}}]}},
                     "aggs": {"queries": {"terms": {"field": "query", "size": size}}}},
        },
    }


def article_passages_search(article_id: str, *, timeout: float, q: str | None = None,
                            synonyms: tuple[str, ...] = ()) -> dict[str, Any]:
    """The article's passages in body order, for the article view; with `q` (normalised) and the official
    terms searched for it (`synonyms`), each passage's text and title whole and highlighted as a search
    highlights them."""
    body: dict[str, Any] = {
        "timeout": es_timeout(timeout),
        "size": MAX_PASSAGES,
        "sort": [{"position": "asc"}],
        "query": {"bool": {"filter": [{"term": {"doc_type": "passage"}}, {"term": {"article_id": article_id}}]}},
        "_source": list(PASSAGE_SPAN_FIELDS),
    }
    if q:
        body["highlight"] = highlight(q, synonyms, whole=True)
    return body


# The article text a more_like_this query reads: its title and the start of its body. Longer bodies
# add little (the query keeps its best `max_query_terms` terms) and cost analysis time.
RELATED_LIKE_CHARS = 5000
RELATED_FIELDS = ["article_id", *METADATA_FIELDS]


def related_source_search(article_id: str, *, timeout: float) -> dict[str, Any]:
    """The article document (title, body) and its first passage's vector, in one request.

    Vectors are not in `_source` (the mapping excludes them); `docvalue_fields` reads the stored
    float vector back. An article without passages comes back without a vector."""
    return {
        "query": {"ids": {"values": [article_doc_id(article_id), passage_doc_id(article_id, 0)]}},
        "size": 2,
        "_source": ["doc_type", "title", "body"],
        "docvalue_fields": ["vector"],
        "track_total_hits": False,
        "timeout": es_timeout(timeout),
    }


def _not_this_article(article_id: str) -> list[dict[str, Any]]:
    return [{"term": {"doc_type": "passage"}}, {"bool": {"must_not": [{"term": {"article_id": article_id}}]}}]


def related_text_search(article_id: str, title: str, body: str, *, depth: int, timeout: float) -> dict[str, Any]:
    """Articles sharing the article's most characteristic words (more_like_this over title and
    text), one hit per article, the article itself excluded."""
    like = f"{title}\n{body[:RELATED_LIKE_CHARS]}"
    return {
        "query": {"bool": {
            "must": [{"more_like_this": {"fields": ["title", "text"], "like": like, "min_term_freq": 1,
                                         "min_doc_freq": 1, "max_query_terms": 30, "minimum_should_match": "10%"}}],
            "filter": _not_this_article(article_id),
        }},
        "collapse": {"field": "article_id"},
        "size": depth,
        "_source": RELATED_FIELDS,
        "track_total_hits": False,
        "timeout": es_timeout(timeout),
    }


def related_vector_search(article_id: str, vector: list[float], *, depth: int, num_candidates: int,
                          min_similarity: float, timeout: float) -> dict[str, Any]:
    """Articles whose passages lie nearest the article's first passage (kNN), one hit per article,
    the article itself excluded. k covers several passages per article before collapsing."""
    k = depth * 3
    return {
        "knn": {"field": "vector", "query_vector": vector, "k": k, "num_candidates": max(num_candidates, k),
                "filter": _not_this_article(article_id), "similarity": min_similarity},
        "collapse": {"field": "article_id"},
        "size": depth,
        "_source": RELATED_FIELDS,
        "track_total_hits": False,
        "timeout": es_timeout(timeout),
    }


def _sort(sort: str) -> list[Any]:
    if sort == "date":
        return [{"date": {"order": "desc", "missing": "_last"}}, "_score", {"article_id": "asc"}]
    return ["_score", {"article_id": "asc"}]
