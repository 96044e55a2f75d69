"""A job's end is written even when Elasticsearch is away at that moment (`service.reindex._retried`)."""

from __future__ import annotations

import pytest
from elastic_transport import ConnectionError

from service import reindex


def test_the_write_is_tried_again_until_the_node_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(reindex.time, "sleep", pauses.append)
    answers = iter([ConnectionError("node away"), ConnectionError("node away"), True])

    def write() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert reindex._retried(write, "job x: recording its end", within=60) is True
    assert pauses == [1.0, 2.0]  # backing off


def test_past_its_time_the_last_error_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reindex.time, "sleep", lambda seconds: None)

    def write() -> bool:
        raise ConnectionError("node away")

    with pytest.raises(ConnectionError):
        reindex._retried(write, "job x: recording its end", within=0)
