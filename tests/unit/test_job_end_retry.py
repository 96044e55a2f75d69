"""Writes to Elasticsearch tried again while it is away (`indexer.elastic.retried`): a job's end, a failed build's cleanup."""

from __future__ import annotations

import pytest
from elastic_transport import ConnectionError

from indexer import elastic
from service import reindex


def test_the_write_is_tried_again_until_the_node_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(elastic.time, "sleep", pauses.append)
    answers = iter([ConnectionError("node away"), ConnectionError("node away"), True])

    def write() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert reindex._retried(write, "job x: recording its end", within=60) is True
    assert pauses == [1.0, 2.0]  # backing off


def test_past_its_time_the_last_error_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(elastic.time, "sleep", lambda seconds: None)

    def write() -> bool:
        raise ConnectionError("node away")

    with pytest.raises(ConnectionError):
        reindex._retried(write, "job x: recording its end", within=0)


class _Indices:
    """`es.indices.delete` failing while the node is away, then answering."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.deleted: list[str] = []

    def delete(self, index: str, ignore_unavailable: bool) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("node away")
        self.deleted.append(index)


class _Node:
    def __init__(self, failures: int) -> None:
        self.indices = _Indices(failures)


def test_a_failed_builds_index_is_deleted_once_the_node_is_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build failing because Elasticsearch went away used to leave its partial index (GBs at scale) behind."""
    from indexer import pipeline

    monkeypatch.setattr(elastic.time, "sleep", lambda seconds: None)
    node = _Node(failures=3)
    pipeline._discard(node, "gov-articles-partial")  # type: ignore[arg-type]
    assert node.indices.deleted == ["gov-articles-partial"]


def test_a_partial_index_that_cannot_be_deleted_never_hides_the_builds_own_error(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from indexer import pipeline

    monkeypatch.setattr(elastic.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(pipeline, "DISCARD_SECONDS", 0.0)
    pipeline._discard(_Node(failures=10), "gov-articles-partial")  # type: ignore[arg-type]  # no raise
    assert "gov-articles-partial could not be deleted; the next successful build prunes it" in caplog.text
