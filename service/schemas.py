"""The public JSON contract (v1), as pydantic models so OpenAPI at /docs documents it exactly.

Article fields are not listed here: `Hit`, `ArticleView` and `ArticleIn` inherit them from
`govsearch.schema.ArticleMetadata`, the one definition.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from govsearch.rules import match_key
from govsearch.schema import (
    LABEL_FIELDS,
    MAX_LABEL_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    ArticleMetadata,
    PassageSpan,
    in_the_future,
)
from service.hidden import MAX_WORD_CHARS as MAX_HIDDEN_WORD_CHARS
from service.hidden import MAX_WORDS as MAX_HIDDEN_WORDS
from service.synonyms import MAX_LINE_CHARS, MAX_RULE_LINES

SearchMode = Literal["hybrid", "bm25", "vector"]
SortOrder = Literal["relevance", "date"]
_VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f]"  # no space, no control character (Unicode's, \x85 among them)
NOT_BLANK = _VISIBLE
"""Text with something besides spaces (the contract states it, so a client knows "  " is refused)."""
LINK_PATTERN = rf"^(https?://{_VISIBLE}+|/([^/\\\s\x00-\x1f\x7f-\x9f]{_VISIBLE}*)?)$"
"""A link a page may show: http(s), or a path on this site (not `//host` nor `/\\host`, which browsers read as
another host, not `javascript:`), without spaces or control characters."""


# ---- search ---------------------------------------------------------------------------------

class Hit(ArticleMetadata):
    id: str = Field(description="Article id; GET /articles/{id} returns the whole article.")
    snippet: str = Field(description="HTML-escaped best passage excerpt; query words wrapped in <em>…</em>.")
    title_snippet: str = Field(description="The whole title, HTML-escaped, the query's text it holds wrapped in "
                               "<em>…</em> (in a hit the word search found; a hit found by meaning alone has none).")
    text: str = Field(description="The best passage of the article, plain text.")
    score: float = Field(ge=0, le=1, description="Relevance in [0, 1], comparable across queries of one mode "
                         "(bm25: s/(s+20) of the BM25 score; vector: cosine similarity; hybrid: the weighted "
                         "mean of those two, or with FUSION=rrf the fused score over the best possible).")
    match: Literal["words", "meaning"] = Field(description="`words`: the article holds words of the query (the word "
                                               "search found it through two of the query's characters in a row or a "
                                               "synonym rule's term, it is the exact title or document number, or its "
                                               "snippet marks a word); `meaning`: otherwise — found by meaning alone "
                                               "(the vector side), or by single characters of a word — so nothing in "
                                               "it is marked. A page may label such hits (意思相近).")


class FacetBucket(BaseModel):
    value: str | int
    count: int = Field(description="Articles (not passages) in the result set with this value.")


class Facets(BaseModel):
    town: list[FacetBucket] = Field(description="The town (镇/街道) of the article; `town=` filters by it.")
    publisher: list[FacetBucket]
    department: list[FacetBucket]
    year: list[FacetBucket]


class SynonymExpansion(BaseModel):
    word: str = Field(description="A word of the query that has a synonym rule (老人).")
    terms: list[str] = Field(description="The official terms searched besides it, at a lower weight (老年人).")


class UnderstoodQuery(BaseModel):
    """What the service read out of the query text (`service.understanding`, `service.synonyms`)."""

    text: str = Field(description="The words searched: the query without its date words.")
    date_from: str | None = Field(None, description="YYYY-MM-DD: the start of the range a date word "
                                  "(2022年12月, 去年, 上个月, 今年) stands for, applied as a filter.")
    date_to: str | None = Field(None, description="YYYY-MM-DD, inclusive.")
    date_applied: bool = Field(False, description="Whether the date words' range filters the results. False with "
                               "a range: nothing of that time holds the query's wording (every part as typed, or most "
                               "of each part's words and character pairs, or a synonym rule's term, or the exact "
                               "title or number) and something at other times does, so the words were searched at "
                               "any time.")
    town: str | None = Field(None, description="A town or publisher the query names, whose articles are boosted.")
    synonyms: list[SynonymExpansion] = Field(default_factory=list, description="Plain words of the query and the "
                                             "official terms also searched for them (同时搜索), from the synonym "
                                             "rules (/admin/synonyms).")


class BestBetIn(BaseModel):
    """A best bet (办事直达): what to pin above the results of a query. Exactly one of `url`, `article_id`."""

    # The contract states the one-target rule `_one_target` enforces: exactly one of them is a string.
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["url"], "properties": {"url": {"type": "string"}}},
        {"required": ["article_id"], "properties": {"article_id": {"type": "string"}}},
    ]})

    query: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK, description="The query it answers "
                       "(compared after normalisation: simplified, half-width, lower case, spaces collapsed).")
    match: Literal["exact", "contains"] = Field("exact", description="exact: the whole query; contains: the "
                                                "rule's query occurs in it.")
    title: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK, description="What the page shows.")
    url: str | None = Field(None, max_length=2000, pattern=LINK_PATTERN,
                            description="A link (http, https, or a path on this site).")
    article_id: str | None = Field(None, min_length=1, max_length=100, description="Or an article of the index.")

    @field_validator("query")
    @classmethod
    def _comparable(cls, query: str) -> str:
        if not match_key(query):
            raise ValueError("holds nothing to match once spaces are removed")
        return query

    @model_validator(mode="after")
    def _one_target(self) -> BestBetIn:
        if (self.url is None) == (self.article_id is None):
            raise ValueError("give exactly one of url and article_id")
        return self


class BestBet(BestBetIn):
    id: str


class BestBetListed(BestBet):
    shown: bool = Field(description="Whether searches show the rule now: false while its article is not in the "
                        "live index (deleted, or left out of a rebuild); it is shown again once the article is back.")


class BestBetList(BaseModel):
    best_bets: list[BestBetListed]


VERSION_READ = ("PUT: the `version` the GET you edited answered; if the stored list is at another version by "
                "then (another admin changed it), nothing is stored and the answer is 409 `version_conflict`. "
                "Leave it out to replace whatever is stored.")


class SynonymRulesIn(BaseModel):
    """The whole synonym set, one rule per entry, in the `data/synonyms.txt` format: `plain, plain2 =>
    official, official2` (one-way) or `term, term2` (equivalent); `#` comments and blank entries are kept
    and ignored."""

    rules: list[str] = Field(max_length=MAX_RULE_LINES, description=f"At most {MAX_RULE_LINES} entries, "
                             f"{MAX_LINE_CHARS} characters each.", examples=[["老人, 老人家 => 老年人", "防火, 消防"]])
    version: int | None = Field(None, ge=1, description=VERSION_READ)


class SynonymRules(SynonymRulesIn):
    count: int = Field(description="Rules in the set (comments and blank entries not counted).")
    version: int | None = Field(description="The stored set's version (grows with every PUT); null: the repo file, "
                                "Elasticsearch not written yet.")
    updated: str | None = Field(description="When the set was stored (ISO 8601, UTC).")


class HiddenQueriesIn(BaseModel):
    """The whole list of words hidden from 热门搜索 and the query suggestions: a past query holding one (both
    normalised, any case) is not shown. A word written twice is kept once."""

    words: list[Annotated[str, Field(min_length=1, max_length=MAX_HIDDEN_WORD_CHARS, pattern=NOT_BLANK)]] = Field(
        max_length=MAX_HIDDEN_WORDS, description=f"At most {MAX_HIDDEN_WORDS} words of 1-{MAX_HIDDEN_WORD_CHARS} "
        "characters, not blank.", examples=[["代办", "加微信"]])
    version: int | None = Field(None, ge=1, description=VERSION_READ)


class HiddenQueries(HiddenQueriesIn):
    settings_words: list[str] = Field(description="Words hidden by SUGGEST_HIDDEN_QUERIES (set with the "
                                      "deployment, not changed by PUT); hidden as well.")
    version: int | None = Field(description="The stored list's version (grows with every PUT); null: none stored.")
    updated: str | None = Field(description="When the list was stored (ISO 8601, UTC).")


class SearchResponse(BaseModel):
    query: str
    mode: SearchMode
    total: int = Field(description="Articles in the result set: every page up to total can be fetched.")
    page: int
    size: int
    took_ms: float
    hits: list[Hit]
    facets: Facets = Field(description="Counts over the same result set that `total` counts.")
    degraded: bool = Field(False, description="True when the answer is not the full one: the embedding model failed "
                           "or was too slow (results are BM25 only), or some index shard did not answer in time or "
                           "at all (results may be incomplete).")
    degraded_reason: str | None = Field(None, description="Why `degraded` is true, in words; null otherwise.")
    ranking: str = Field(
        description="What ordered the hits: `bm25`, `vector`, the fused hybrid order (`fusion-normalized` or "
        "`fusion-rrf`, the FUSION setting), or the learned ranker's version (`learned-v8`). Hybrid answers "
        "`bm25` when degraded, and a fusion value when the ranker is off, missing or failed. `date` for "
        "`sort=date` in bm25 and hybrid modes: the articles holding the query's wording, newest first.",
        examples=["learned-v8"])
    did_you_mean: str | None = Field(None, description="The query with misspelt words corrected (安全生厂 → 安全生产), "
                                     "when a word of it finds little: some of its character pairs occur nowhere in "
                                     "the index. Words that occur in the index (names, document numbers) are never "
                                     "corrected. null otherwise.")
    best_bets: list[BestBet] = Field(default_factory=list, description="办事直达: what administrators pinned for "
                                     "this query (/admin/bestbets), to show above the hits.")
    understood: UnderstoodQuery | None = Field(None, description="Date words turned into a date range, a "
                                               "town or publisher boosted, official terms searched for plain "
                                               "words; null when the query has none of them.")


class Suggestion(BaseModel):
    kind: Literal["query", "title"] = Field(description="`query`: a popular past search (searched by at "
                                           "least SUGGEST_MIN_SEARCHES different people), to run as a search; "
                                           "`title`: an article.")
    text: str = Field(description="What to show and, for a query, to search.")
    id: str | None = Field(description="Article id (GET /articles/{id}) of a title; null for a query.")
    title: str | None = Field(description="The article's title; null for a query.")


class SuggestResponse(BaseModel):
    query: str
    suggestions: list[Suggestion]


# ---- hot searches, clicks, analytics --------------------------------------------------------

class HotQuery(BaseModel):
    query: str
    count: int = Field(description="Searches for it in the last HOT_DAYS days.")


class HotSearches(BaseModel):
    hot: list[HotQuery] = Field(description="Most searched queries that found an article holding their words, "
                                "most first.")


class ClickEvent(BaseModel):
    """A result the page's reader opened (POST /events/click). Nothing identifies the reader."""

    query: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    article_id: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK)
    position: int = Field(ge=1, le=1000, description="1-based rank of the result in the list.")


class QueryStats(BaseModel):
    query: str
    searches: int
    clicks: int
    click_through: float = Field(description="clicks / searches.")


class ZeroResultQuery(BaseModel):
    query: str
    searches: int


class AnalyticsReport(BaseModel):
    days: int
    searches: int
    clicks: int
    click_through: float = Field(description="All clicks / all searches of the period.")
    top_queries: list[QueryStats]
    zero_result_queries: list[ZeroResultQuery] = Field(description="Searched but found nothing: content "
                                                       "to write, or synonyms and best bets to add.")
    dropped: int = Field(description="Events this API process could not log (queue full or Elasticsearch away).")


# ---- articles -------------------------------------------------------------------------------

class ArticleView(ArticleMetadata):
    id: str
    body: str
    passages: list[PassageSpan]
    marks: list[str] = Field(default_factory=list, description="With `q`: the texts a search for `q` marks in "
                             "this article's title and passages, each once, longest first — the query's words as "
                             "the search reads them (traditional characters as simplified, full-width as "
                             "half-width) and the official terms its synonym rules add; touching marks joined, a "
                             "lone character only when the query has a one-character part. Empty without `q` or "
                             "when the article holds none of them.")


class RelatedArticle(ArticleMetadata):
    id: str = Field(description="Article id; GET /articles/{id} returns the whole article.")
    score: float = Field(ge=0, le=1, description="Likeness in [0, 1]: the fused rank score of the word match "
                         "(more_like_this) and the vector neighbours over the best possible (1 = first for both).")


class RelatedResponse(BaseModel):
    id: str = Field(description="The article the list is for; it is never in its own list.")
    related: list[RelatedArticle] = Field(description="Other articles like it, best first, one entry per article.")


# The metadata with the labels' length cap stated, descriptions and defaults taken from `ArticleMetadata`.
_CappedMetadata: type[ArticleMetadata] = create_model(  # type: ignore[call-overload]
    "_CappedMetadata", __base__=ArticleMetadata,
    **{name: (Annotated[ArticleMetadata.model_fields[name].annotation, Field(max_length=MAX_LABEL_CHARS)],
              ArticleMetadata.model_fields[name]) for name in LABEL_FIELDS})


class ArticleIn(_CappedMetadata):
    """An article written by an admin (PUT /admin/documents/{id}); metadata as in search hits. A field it does
    not know is a 422 naming it: a misspelt `date` (`publish_date`) must not be dropped unnoticed; so is text
    Elasticsearch would refuse (a label over MAX_LABEL_CHARS; half of an emoji, which pydantic refuses itself), and a
    `date` after tomorrow (UTC)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS, pattern=NOT_BLANK,
                       description="The article's headline (stored without spaces at either end).")
    body: str = Field(min_length=1, max_length=500_000, pattern=NOT_BLANK,
                      description="Plain text; paragraphs separated by newlines (stored without spaces at either end).")
    url: str | None = Field(None, max_length=MAX_URL_CHARS, pattern=LINK_PATTERN,
                            description="Its address on the publisher's site (http, https, or a path on this site), "
                            "or null.")

    @field_validator("date")
    @classmethod
    def _published(cls, value: str | None) -> str | None:
        """Not in the future (`govsearch.schema.in_the_future`)."""
        if value is not None and in_the_future(value):
            raise ValueError("is in the future: the day the article was published, at the latest today")
        return value


class DocumentWritten(BaseModel):
    id: str
    result: Literal["created", "updated", "deleted"]
    passages: int | None = Field(None, description="Passages the article was split into (writes only).")
    indices: list[str] = Field(description="The indices written: the live one, and one being built if any.")
    searchable: str


# ---- admin ----------------------------------------------------------------------------------

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class ReindexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt `sources` must not rebuild from the default corpus

    sources: list[str] | None = Field(None, min_length=1, max_length=50,
                                      description="Files or directories under the configured DATA_ROOTS; relative "
                                      "paths are relative to the project. Default: SAMPLE_CORPUS.")
    model: str | None = Field(None, description="Embedding model for the new index (default: EMBEDDING_MODEL).")
    mode: Literal["full", "incremental"] = Field(
        "full", description="full: new index, then alias switch. incremental: in place, new and changed articles "
        "written, and the articles the sources' files no longer hold removed.")
    allow_shrink: bool = Field(
        False, description="A full build may hold far fewer articles than the live index (more than "
        "REBUILD_MAX_DROP fewer), an incremental one remove that many; without it such a build fails before the "
        "switch (the removal), the live index untouched.")


class ReindexStarted(BaseModel):
    job_id: str
    state: JobState
    status_url: str


class Job(BaseModel):
    """A reindex job as stored in JOBS_INDEX and reported by /admin/jobs."""

    job_id: str
    state: JobState
    phase: str
    sources: list[str] = Field(default_factory=list)
    model: str | None = None
    mode: Literal["full", "incremental"] = "full"
    allow_shrink: bool = Field(False, description="Asked to switch to a much smaller index (ReindexRequest).")
    requested_by: str | None = Field(None, description="Fingerprint of the admin token that asked for it.")
    owner: str | None = Field(None, description="host:pid of the API process running it.")
    created: str
    started: str | None = None
    finished: str | None = None
    heartbeat: str | None = None
    done: int = Field(0, description="Passages loaded so far.")
    total: int = Field(0, description="Passages to load (grows while parsing runs).")
    articles: int = 0
    rate: float = Field(0.0, description="Passages per second.")
    new_index: str | None = None
    previous_index: str | None = None
    error: str | None = None
    cancel_requested: bool = False
    result: dict[str, Any] | None = None


class JobList(BaseModel):
    jobs: list[Job]


class CancelRequested(BaseModel):
    job_id: str
    state: JobState
    cancel_requested: bool


class RolledBack(BaseModel):
    alias: str
    index: str
    previous_index: str | None


class JournalCompacted(BaseModel):
    alias: str
    kept: int = Field(description="Entries kept: the newest of each article (deletes as tombstones).")
    removed: int = Field(description="Entries removed: each superseded by a newer entry of its article.")


class QueryCacheStats(BaseModel):
    hits: int
    misses: int


class AdmissionStats(BaseModel):
    """This API process's search slots (MAX_CONCURRENT_SEARCHES) since it started."""

    limit: int
    queue_wait: float = Field(description="Seconds a search may wait for a slot before it is shed.")
    in_flight: int
    waiting: int
    admitted: int
    shed: int = Field(description="Searches answered 503 `overloaded` because no slot freed in time.")


class IndexStats(BaseModel):
    alias: str
    index: str
    articles: int
    passages: int
    size_bytes: int
    embedding_model: str | None
    dims: int | None
    created: str | None
    indices: list[str]
    last_successful_job: Job | None = Field(description="The newest reindex job that succeeded. After a rollback or a "
                                            "restore, not the one behind the live index: see `live_index_job`.")
    live_index_job: Job | None = Field(description="The newest job that succeeded writing into the live index "
                                       "(`index`): the job that built it or last updated it incrementally; null "
                                       "when the command line or a restore made it, or its job is past the 50 "
                                       "newest.")
    running_job: Job | None
    query_cache: QueryCacheStats
    admission: AdmissionStats | None = None


# ---- backups ----------------------------------------------------------------------------------

class Backup(BaseModel):
    """One snapshot in the backup repository (SNAPSHOT_REPOSITORY)."""

    snapshot: str = Field(description="Snapshot name; POST /admin/backups/{snapshot}/restore restores it.")
    state: str = Field(description="Elasticsearch's snapshot state: IN_PROGRESS, SUCCESS, PARTIAL, FAILED.")
    indices: list[str] = Field(description="Indices in the snapshot: the live index and the system indices.")
    alias: str | None = Field(None, description="The alias the live index was behind.")
    live_index: str | None = Field(None, description="The index that was live; a restore brings it back.")
    start_time: str | None = None
    end_time: str | None = None
    failures: list[str] = Field(default_factory=list)
    requested_by: str | None = Field(None, description="Fingerprint of the admin token that asked for it, or `cli`.")


class BackupList(BaseModel):
    backups: list[Backup] = Field(description="Newest first.")


class Restored(BaseModel):
    snapshot: str
    alias: str
    index: str = Field(description="The new index the snapshot was restored into; the alias now points at it.")
    previous_index: str | None = Field(description="What the alias pointed at before (kept, for rollback).")
    restored_from: str = Field(description="The index name recorded in the snapshot.")
    system_indices_restored: list[str] = Field(description="System indices that were missing and came back.")


# ---- errors ---------------------------------------------------------------------------------

class ErrorDetail(BaseModel):
    code: str
    message: str
    parameter: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """/readyz: a probe's answer (not an error: `status` and, when not ready, the reason)."""

    status: Literal["ready", "not_ready"]
    alias: str | None = Field(None, description="INDEX_ALIAS, when ready.")
    reason: str | None = Field(None, description="Why not ready: Elasticsearch unreachable, or no alias yet.")


RETRY_AFTER_HEADER: dict[str, Any] = {
    "Retry-After": {"description": "Whole seconds to wait before asking again.",
                    "schema": {"type": "integer", "minimum": 0}},
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "A parameter is invalid; `error.parameter` names it."},
    503: {"model": ErrorResponse, "headers": RETRY_AFTER_HEADER,
          "description": "Elasticsearch is unreachable or the index is not built (`unavailable`), or this API "
          "process runs as many searches as it may (`overloaded`, /search only): ask again after Retry-After."},
}
BAD_BODY_RESPONSE: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not valid JSON."},
    413: {"model": ErrorResponse, "description": "The body is over MAX_REQUEST_BYTES."},
    415: {"model": ErrorResponse, "description": "The body was sent as another media type than application/json."},
}
CONFLICT_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The current state forbids it (a job is running, nothing to "
          "roll back); `error.code` says which."},
}
NOT_FOUND_RESPONSE: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Nothing has this id."},
}
