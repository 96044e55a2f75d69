"""INDEX_SHARDS / INDEX_REPLICAS reach the indices the indexer and the job store create, over the
counts in mappings/ (which still apply when no layout is given). On a real cluster: tests/test_cluster.py."""

from __future__ import annotations

from typing import Any, cast

from elasticsearch import Elasticsearch

from govsearch.settings import IndexLayout
from indexer import elastic
from service.jobs import JobStore


class _Indices:
    """Records what `indices.create` was asked; no index exists beforehand."""

    def __init__(self) -> None:
        self.created: dict[str, dict[str, Any]] = {}

    def exists(self, index: str) -> bool:
        return index in self.created

    def create(self, index: str, settings: dict[str, Any], mappings: dict[str, Any]) -> None:
        self.created[index] = settings


class _Recorder:
    def __init__(self) -> None:
        self.indices = _Indices()


def _create_articles_index(layout: IndexLayout | None) -> dict[str, Any]:
    recorder = _Recorder()
    name = elastic.create_articles_index(cast(Elasticsearch, recorder), "gov-articles", dims=512, model="usem3",
                                         layout=layout)
    index_settings: dict[str, Any] = recorder.indices.created[name]["index"]
    return index_settings


def test_the_layout_overrides_the_mapping_files_counts() -> None:
    index = _create_articles_index(IndexLayout(shards=2, replicas=1))
    assert (index["number_of_shards"], index["number_of_replicas"]) == (2, 1)
    assert index["max_result_window"] == 10000  # the rest of mappings/articles.json is kept


def test_without_a_layout_the_mapping_file_decides() -> None:
    mapping = elastic.load_mapping("articles")["settings"]["index"]
    index = _create_articles_index(None)
    assert (index["number_of_shards"], index["number_of_replicas"]) == (
        mapping["number_of_shards"], mapping["number_of_replicas"])


def test_the_jobs_index_gets_the_replicas_and_stays_hidden() -> None:
    recorder = _Recorder()
    JobStore(cast(Elasticsearch, recorder), "gov-search-jobs", "gov-articles", replicas=2).ensure_index()
    index = recorder.indices.created["gov-search-jobs"]["index"]
    assert (index["number_of_shards"], index["number_of_replicas"], index["hidden"]) == (1, 2, True)
