"""Property-based tests generated from the OpenAPI contract (schemathesis): every public and admin
operation, in-process against the app with the real node and the sample index, admin calls with a
valid token. No 5xx, and every response (status, content type, headers, body) matches the document.

Bounded and deterministic: at most MAX_EXAMPLES cases per operation, derandomized (the same cases
every run). The admin operations write to an alias, jobs index and snapshot repository of their own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from elasticsearch import Elasticsearch
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance
from schemathesis.schemas import BaseSchema

from govsearch.settings import Settings
from indexer import elastic
from indexer.embeddings import Embedder
from indexer.pipeline import build
from service.main import create_app
from service.routes.search import MAX_WINDOW
from tests.conftest import SAMPLE

MAX_EXAMPLES = 25
TOKEN = "fuzz-admin-token-0123456789"
ALIAS = "test-fuzz-articles"
JOBS = "test-fuzz-jobs"


@pytest.fixture(scope="module")
def fuzz_app(es: Elasticsearch, embedder: Embedder, settings: Settings,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    repository = f"test-fuzz-backups-{secrets.token_hex(3)}"
    # An empty data root and a missing sample corpus: reindex requests are validated and answered (422),
    # but no background build starts and outlives its case (builds are tested in tests/test_admin.py).
    empty_root = tmp_path_factory.mktemp("fuzz-data-root")
    fuzz_settings = settings.model_copy(update={
        "index_alias": ALIAS, "jobs_index": JOBS, "admin_token": [TOKEN], "metrics_token": SecretStr(TOKEN),
        "admin_auth_max_failures": 100_000, "snapshot_repository": repository, "snapshot_location": repository,
        "data_roots": [empty_root], "sample_corpus": empty_root / "missing",
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
def contract(fuzz_app: FastAPI) -> BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation in the contract; building the app opens no connection."""
    document = create_app(Settings(admin_token=[TOKEN])).openapi()
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item]


def _breaks_a_cross_field_rule(case: schemathesis.Case) -> bool:
    """A /search request with page × size > MAX_WINDOW, or date_from after date_to; an admin document dated after
    tomorrow (the schema cannot state "not after today"): schema-valid, refused (422)."""
    if case.operation.path == "/admin/documents/{article_id}":
        published = case.body.get("date") if isinstance(case.body, dict) else None
        return isinstance(published, str) and published > (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    if case.operation.path != "/search":
        return False
    query = case.query or {}
    try:
        window = int(query.get("page", 1)) * int(query.get("size", 10))
    except (TypeError, ValueError):
        return False
    dates = query.get("date_from"), query.get("date_to")
    return window > MAX_WINDOW or (all(isinstance(d, str) for d in dates) and str(dates[0]) > str(dates[1]))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: v)
def test_every_operation_honours_the_contract(contract: BaseSchema, method: str, path: str,
                                              mode: GenerationMode) -> None:
    operation = contract[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def honours(case: schemathesis.Case) -> None:
        # Not a server error; status, content type, headers and body as documented; and a request the schema
        # calls valid is accepted (not a 400/422). Left out: whether every schema-violating request is
        # refused (negative_data_rejection; e.g. a string where the schema wants an integer is accepted when
        # it parses as one). Positive acceptance is skipped only for requests breaking a cross-field rule the
        # schema cannot state and its descriptions do: page × size ≤ 1000, date_from ≤ date_to (/search).
        excluded = [negative_data_rejection]
        # POST /admin/reindex: its sources are paths on the server, valid only if they exist inside DATA_ROOTS,
        # which no schema can state; here none do (so that no build outlives its case): every request is a 422.
        # PUT /admin/synonyms: each entry is a line of the synonym-rule language (`a, b => c` or `a, b`), a
        # grammar the schema states in words only; entries outside it are refused with 422 naming the entry.
        # PUT /admin/bestbets/{id} with an `article_id`: it must name an article of the live index, which the
        # generated ids do not (422 naming article_id). PUT /admin/hidden-queries with a `version`: it must be the
        # stored list's (409 version_conflict otherwise), state no schema holds.
        if _breaks_a_cross_field_rule(case) or case.operation.path == "/admin/reindex" or (
                case.operation.path == "/admin/synonyms" and case.method.upper() == "PUT") or (
                case.operation.path == "/admin/bestbets/{bet_id}" and isinstance(case.body, dict)
                and case.body.get("article_id") is not None) or (
                case.operation.path == "/admin/hidden-queries" and isinstance(case.body, dict)
                and case.body.get("version") is not None):
            excluded.append(positive_data_acceptance)
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=excluded)

    try:
        honours()
    except Unsatisfiable:  # nothing in this operation can be made invalid (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE
        pytest.skip("no invalid input to generate for this operation")
