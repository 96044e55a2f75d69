"""The perf benchmark's indexing measurements on the real node (`bench.perf.indexing.measure_corpus`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from bench.perf.indexing import measure_corpus
from govsearch.settings import Settings
from indexer import elastic
from indexer.embeddings import Embedder
from tests.conftest import SAMPLE

ALIAS, SCRATCH = "test-perf-cold", "test-perf-scratch"


@pytest.fixture
def aliases(es: Elasticsearch) -> Iterator[None]:
    yield
    for alias in (ALIAS, SCRATCH):
        for index in elastic.versioned_indices(es, alias):
            es.indices.delete(index=index, ignore_unavailable=True)
        es.indices.delete(index=alias, ignore_unavailable=True)


def _first(n: int, into: Path) -> Path:
    into.mkdir()
    for path in sorted(SAMPLE.iterdir())[:n]:
        shutil.copy(path, into / path.name)
    return into


def test_a_larger_size_of_the_same_corpus_starts_from_empty_caches(es: Elasticsearch, embedder: Embedder,
                                                                    settings: Settings, tmp_path: Path,
                                                                    aliases: None) -> None:
    """The first 2 files of the sample, then the first 4 (which hold them), measured in one benchmark run: the
    larger size's cold build computes every vector, and its re-build finds them all."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    runs = [measure_corpus(es, embedder, corpus="sample", sources=[_first(n, tmp_path / f"first-{n}")],
                           source_label=f"first {n}", alias=ALIAS, scratch_alias=SCRATCH, batch_size=16,
                           workdir=workdir, es_url=settings.elasticsearch_url, log=lambda _: None)
             for n in (2, 4)]
    for run in runs:
        assert run.builds["first"].cache_hits == 0 and run.builds["first"].cache_misses == run.passages
        assert run.builds["rerun"].cache_misses == 0 and run.builds["rerun"].cache_hits == run.passages
    assert runs[1].articles > runs[0].articles > 0 and not list(workdir.iterdir())  # each run's caches removed after it
