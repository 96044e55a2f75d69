"""Property-based tests generated from the OpenAPI contract (schemathesis): every public and admin
operation, in-process against the app with the real node and the sample index, admin calls with a
valid token. No 5xx, and every response (status, content type, headers, body) matches the document.

Bounded and deterministic: at most MAX_EXAMPLES cases per operation, derandomized (the same cases
every run). The admin operations write to an alias, jobs index and snapshot repository of their own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import schemathesis
from elasticsearch import Elasticsearch
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from pydantic import SecretStr

from govsearch.settings import Settings
from indexer import elastic
from indexer.embeddings import Embedder
from indexer.pipeline import build
from service.main import create_app
from tests.conftest import SAMPLE

MAX_EXAMPLES = 25
TOKEN = "fuzz-admin-token-0123456789"
ALIAS = "test-fuzz-articles"
JOBS = "test-fuzz-jobs"


@pytest.fixture(scope="module")
def fuzz_app(es: Elasticsearch, embedder: Embedder, settings: Settings) -> Iterator[FastAPI]:
    repository = f"test-fuzz-backups-{secrets.token_hex(3)}"
    fuzz_settings = settings.model_copy(update={
        "index_alias": ALIAS, "jobs_index": JOBS, "admin_token": [TOKEN], "metrics_token": SecretStr(TOKEN),
        "admin_auth_max_failures": 100_000, "snapshot_repository": repository, "snapshot_location": repository,
    })
    for name in elastic.versioned_indices(es, ALIAS):
        es.indices.delete(index=name)
    es.indices.delete(index=JOBS, ignore_unavailable=True)
    build(es, embedder, [SAMPLE], alias=ALIAS)
    # schemathesis starts the app's lifespan itself, once, on its own event loop (the runtime's async
    # client must live on the loop that serves the requests).
    yield create_app(fuzz_settings)
    for name in elastic.versioned_indices(es, ALIAS):
        es.indices.delete(index=name)
    es.indices.delete(index=JOBS, ignore_unavailable=True)
    found = es.options(ignore_status=404).snapshot.get(repository=repository, snapshot="_all")
    for snap in found.get("snapshots", []):
        es.snapshot.delete(repository=repository, snapshot=snap["snapshot"])
    es.options(ignore_status=404).snapshot.delete_repository(name=repository)


@pytest.fixture(scope="module")
def contract(fuzz_app: FastAPI) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


schema = schemathesis.pytest.from_fixture("contract")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_honours_the_contract(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})
