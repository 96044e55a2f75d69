"""Shared fixtures: a real Elasticsearch node (started by `make test` on ES_PORT), the real
embedding model, and the bundled sample corpus indexed once per session under a test alias."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from govsearch.paths import SAMPLE_CORPUS
from govsearch.settings import Settings
from indexer import elastic
from indexer.embeddings import Embedder, load_embedder
from indexer.pipeline import BuildResult, build
from service.main import create_app

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# This process starts many apps; freezing its heap at each start (`service.heap`) would keep every object then
# alive out of the collector's reach for good. Served API subprocesses that test it set GC_SETTLE themselves.
os.environ.setdefault("GC_SETTLE", "false")
SAMPLE = SAMPLE_CORPUS
TEST_ALIAS = "test-gov-articles"
TEST_QUERY_LOG = "test-gov-search-queries"
# The suite's own system indices, so a test storing rules never leaves them in a node's default ones.
TEST_SYNONYMS = "test-gov-search-synonyms"
TEST_BEST_BETS = "test-gov-search-bestbets"
TEST_HIDDEN = "test-gov-search-hidden-queries"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="session")
def settings(cache_dir: Path) -> Settings:
    # No keyless per-IP limit here: every TestClient request comes from one address ("testclient"), and
    # the limit has tests of its own (tests/test_safety.py).
    # Patient deadlines: on a loaded machine a 1 s embedding wait or a 1.2 s ES timeout turned a hybrid answer
    # into a BM25-only or partial one (a ranking test then failed); the deadlines have tests of their own.
    return Settings(index_alias=TEST_ALIAS, query_log_index=TEST_QUERY_LOG, synonyms_index=TEST_SYNONYMS,
                    best_bets_index=TEST_BEST_BETS, hidden_queries_index=TEST_HIDDEN, embedding_cache_dir=cache_dir,
                    query_embedding_timeout=30.0, es_search_timeout=25.0, es_request_timeout=30.0,
                    admin_token=["test-admin-token"],
                    cors_origins=["http://portal.example"], keyless_rate_limit_per_minute=0)


@pytest.fixture(scope="session")
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = elastic.connect(settings.elasticsearch_url)
    try:
        client.cluster.health(wait_for_status="yellow", timeout="30s")
    except Exception as exc:  # a clear message beats fifty connection errors
        pytest.exit(f"no Elasticsearch at {settings.elasticsearch_url}: run the suite with `make test` ({exc})", 2)
    # Rules a previous run stored (the fuzz test PUTs sets) must not change this run's searches, nor its
    # logged queries this run's suggestions (popular past queries come first and displace equal titles).
    for name in (TEST_SYNONYMS, TEST_BEST_BETS, TEST_HIDDEN, TEST_QUERY_LOG):
        client.indices.delete(index=name, ignore_unavailable=True)
    yield client
    client.close()


@contextmanager
def nothing_stored(es: Elasticsearch, index: str, store: object) -> Iterator[None]:
    """A rule store of the app (synonyms, best bets, hidden queries) with nothing stored, before and after the block:
    its index dropped and its in-process cache forgotten (the next read finds what the test stored)."""
    def forget() -> None:
        es.indices.delete(index=index, ignore_unavailable=True)
        store.forget()  # type: ignore[attr-defined]

    forget()
    try:
        yield
    finally:
        forget()


@pytest.fixture
def seeded_rules(client: TestClient, es: Elasticsearch, settings: Settings) -> Iterator[TestClient]:
    """The client with the repo's synonym rules (data/synonyms.txt): no stored set before and after, so a set
    another test stored (the contract fuzz PUTs random ones) does not apply, and the first read seeds the file."""
    with nothing_stored(es, settings.synonyms_index, client.app.state.runtime.synonyms):  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> Embedder:
    return load_embedder(settings.embedding_model, settings.embedding_cache_dir)


def _drop_alias_indices(es: Elasticsearch, alias: str) -> None:
    for name in elastic.versioned_indices(es, alias):
        es.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture(scope="session")
def sample_index(es: Elasticsearch, embedder: Embedder, settings: Settings) -> Iterator[BuildResult]:
    """The sample corpus, freshly indexed under the test alias for the whole session."""
    _drop_alias_indices(es, settings.index_alias)
    result = build(es, embedder, [SAMPLE], alias=settings.index_alias)
    yield result
    _drop_alias_indices(es, settings.index_alias)


@pytest.fixture(scope="session")
def client(settings: Settings, sample_index: BuildResult) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client
