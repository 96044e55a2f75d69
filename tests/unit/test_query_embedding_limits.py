"""Query embedding under a slow or failing model: a timeout that degrades the search to BM25, loading
locks per model, and failed loads backed off (service.embedding), with fake models."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, cast

import numpy as np
import pytest

from govsearch.settings import Settings
from service.embedding import EmbedderPool, LoadedModels, ModelUnavailable, QueryEmbedder
from service.query import SearchRequest
from service.search import Searcher
from tests.unit.es_fakes import FakeBackend, hit, kind, response

AGGS = {"articles": {"value": 1}, "facet_publisher": {"buckets": []}, "facet_department": {"buckets": []},
        "facet_year": {"buckets": []}}


class BlockedModel:
    """A query model whose every embedding waits for `release`; counts how many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = 0
        self.most_at_once = 0
        self._count = threading.Lock()

    def embed_query(self, text: str) -> np.ndarray:
        with self._count:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            assert self.release.wait(10), "the test never released the model"
            return np.array([0.6, 0.8])
        finally:
            with self._count:
                self.running -= 1


class OneModelPool:
    def __init__(self, model: BlockedModel) -> None:
        self.model = model

    def get(self, name: str) -> BlockedModel:
        return self.model


class NoNodeEs:
    """An AsyncElasticsearch with no node behind it: the live model stays the configured one."""

    def options(self, **_: Any) -> NoNodeEs:
        return self

    @property
    def indices(self) -> NoNodeEs:
        return self

    async def get_mapping(self, **_: Any) -> dict:
        raise ConnectionError("no node")


def query_embedder(model: BlockedModel, timeout: float) -> QueryEmbedder:
    return QueryEmbedder(cast(EmbedderPool, OneModelPool(model)), cast(Any, NoNodeEs()), "alias", "usem3",
                         timeout=timeout, max_concurrent=1)


def test_a_slow_query_embedding_times_out_and_the_search_answers_from_bm25() -> None:
    model = BlockedModel()
    embedder = query_embedder(model, timeout=0.1)
    settings = Settings(_env_file=None, query_embedding_timeout=0.1)  # type: ignore[call-arg]
    backend = FakeBackend(bm25=response([hit("b1", 30.0)], AGGS))

    async def scenario() -> tuple[dict, float, list[float]]:
        started = time.monotonic()
        result = await Searcher(backend, embedder, settings).search(SearchRequest(q="港西镇", mode="hybrid"))
        waited = time.monotonic() - started
        model.release.set()
        while embedder._cache == {}:  # the abandoned computation finishes in its thread ...
            await asyncio.sleep(0.01)
        return result, waited, await embedder.embed("港西镇")  # ... and its vector serves the next query

    result, waited, vector = asyncio.run(scenario())
    assert waited < 2
    assert result["degraded"] is True and "longer than 0.1 s" in result["degraded_reason"]
    assert [kind(body) for body in backend.bodies] == ["bm25"] and [h["id"] for h in result["hits"]] == ["b1"]
    assert vector == pytest.approx([0.6, 0.8]) and embedder.hits == 1


def test_queries_that_stop_waiting_do_not_pile_up_embeddings() -> None:
    model = BlockedModel()
    embedder = query_embedder(model, timeout=0.05)

    async def scenario() -> list[BaseException | list[float]]:
        outcomes = await asyncio.gather(*(embedder.embed(f"查询{i}") for i in range(5)), return_exceptions=True)
        model.release.set()
        return outcomes

    outcomes = asyncio.run(scenario())
    assert all(isinstance(outcome, TimeoutError) for outcome in outcomes)
    assert model.most_at_once == 1  # MAX_CONCURRENT_EMBEDDINGS holds even for computations nobody waits for


def test_loading_one_model_does_not_wait_for_another() -> None:
    slow_started, release = threading.Event(), threading.Event()

    def load(name: str) -> str:
        if name == "slow":
            slow_started.set()
            assert release.wait(10)
        return f"model {name}"

    models: LoadedModels[str] = LoadedModels(load, retry_after=30)
    loading = threading.Thread(target=models.get, args=("slow",))
    loading.start()
    assert slow_started.wait(5)
    started = time.monotonic()
    assert models.get("fast") == "model fast"
    assert time.monotonic() - started < 1
    release.set()
    loading.join()
    assert models.get("slow") == "model slow"


def test_a_failing_model_is_not_reloaded_on_every_query_but_after_the_delay() -> None:
    clock = [1000.0]
    attempts: list[str] = []

    def load(name: str) -> str:
        attempts.append(name)
        if len(attempts) < 3:
            raise OSError("weights missing")
        return "loaded"

    models: LoadedModels[str] = LoadedModels(load, retry_after=30, clock=lambda: clock[0])
    for _ in range(5):
        with pytest.raises(ModelUnavailable, match="weights missing"):
            models.get("m")
    assert attempts == ["m"]
    clock[0] += 31
    with pytest.raises(ModelUnavailable):
        models.get("m")
    assert attempts == ["m", "m"]
    clock[0] += 31
    assert models.get("m") == "loaded" and models.get("m") == "loaded"
    assert attempts == ["m", "m", "m"]
