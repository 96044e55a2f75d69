"""The learned ranker in the running app, against the real node, model and sample index: the committed
model answers hybrid searches (`ranking`: its version, `bench.relevance.train.VERSION`); a missing or corrupt model file degrades to
fusion (`ranking: fusion-normalized`, the same hits as with the ranker off) and never fails a search."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench.relevance.train import VERSION
from govsearch.settings import Settings
from indexer.pipeline import BuildResult
from service.main import create_app

QUERIES = ["安全生产检查", "禁止在河里捕鱼", "港西镇召开疫情防控工作会议", "哪里可以免费义诊？"]


def _answers(settings: Settings, **overrides: object) -> list[dict]:
    """The hybrid answers to QUERIES of an app started with `overrides`."""
    answers = []
    with TestClient(create_app(settings.model_copy(update=overrides))) as client:
        for q in QUERIES:
            response = client.get("/search", params={"q": q, "mode": "hybrid"})
            assert response.status_code == 200, response.text
            answers.append(response.json())
    return answers


@pytest.fixture(scope="module")
def fusion_answers(settings: Settings, sample_index: BuildResult) -> list[dict]:
    return (_answers(settings, ranker_model=None))


def test_the_committed_model_orders_hybrid_results(client: TestClient) -> None:
    for q in QUERIES:
        body = client.get("/search", params={"q": q, "mode": "hybrid"}).json()
        assert body["ranking"] == VERSION
        scores = [h["score"] for h in body["hits"]]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert client.get("/search", params={"q": "安全生产检查", "mode": "bm25"}).json()["ranking"] == "bm25"
    assert client.get("/search", params={"q": "安全生产检查", "mode": "vector"}).json()["ranking"] == "vector"


@pytest.mark.parametrize("content", [None, "{\"format\": \"gov-search-ranker/1\", \"model\": \"tree\"}", "\x00garbage"])
def test_a_missing_or_corrupt_model_degrades_to_fusion(settings: Settings, sample_index: BuildResult, tmp_path: Path,
                                                       fusion_answers: list[dict], content: str | None,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "ranker.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="service.ranking"):
        answers = (_answers(settings, ranker_model=path))
    assert any("not loaded" in r.getMessage() for r in caplog.records)
    for body, fusion in zip(answers, fusion_answers):
        assert body["ranking"] == "fusion-normalized"
        assert [h["id"] for h in body["hits"]] == [h["id"] for h in fusion["hits"]]
        assert body["total"] == fusion["total"]
