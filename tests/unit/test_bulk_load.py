"""The build's load stage (`indexer.pipeline.bulk_load`) without a node: how its bulk streams share
the batches and how a failure stops them.

Elasticsearch is a real client pointed at a closed port (connection refused at once), or a
client whose `bulk` answers from the request itself, so the streams run exactly as in a build.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import Elasticsearch

from indexer.pipeline import BULK_STREAMS, BuildCancelled, bulk_load


def _batches(n: int, size: int) -> Iterator[list[dict[str, Any]]]:
    for b in range(n):
        yield [{"_index": "i", "_id": f"p:a{b}-{i}", "_source": {"n": i}} for i in range(size)]


class _EchoingClient(Elasticsearch):
    """Answers every bulk request as a node would when all documents are accepted, recording the
    order of the ids each request carried and which thread sent it."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9")
        self.requests: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    def options(self, **kwargs: Any) -> _EchoingClient:
        return self

    def bulk(self, *args: Any, operations: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        lines = [orjson.loads(line) for line in operations]
        ids = [line["index"]["_id"] for line in lines if "index" in line]
        with self.lock:
            self.requests.append((threading.current_thread().name, ids))
        return SimpleNamespace(body={"errors": False, "items": [{"index": {"_id": i, "status": 201}} for i in ids]})


def test_every_action_is_sent_once_and_each_batch_stays_in_order_within_one_request_stream() -> None:
    client = _EchoingClient()
    seen: list[str] = []
    bulk_load(client, _batches(40, 30), lambda ok, item: seen.append(item["index"]["_id"]))

    expected = [f"p:a{b}-{i}" for b in range(40) for i in range(30)]
    assert sorted(seen) == sorted(expected)
    sent = [doc_id for _, ids in client.requests for doc_id in ids]
    assert sorted(sent) == sorted(expected)
    # A batch is never split across the streams: its ids appear in one thread's requests, in order.
    by_thread: dict[str, list[str]] = {}
    for thread, ids in client.requests:
        by_thread.setdefault(thread, []).extend(ids)
    for b in range(40):
        batch = [f"p:a{b}-{i}" for i in range(30)]
        owners = [t for t, ids in by_thread.items() if batch[0] in ids]
        assert len(owners) == 1
        ids = by_thread[owners[0]]
        start = ids.index(batch[0])
        assert ids[start:start + 30] == batch
    assert BULK_STREAMS == 2 and len(by_thread) <= BULK_STREAMS


def test_a_failing_node_raises_its_own_error_and_cancels_the_rest() -> None:
    client = Elasticsearch("http://127.0.0.1:9", max_retries=0)
    cancel = threading.Event()
    with pytest.raises(TransportConnectionError):
        bulk_load(client, _batches(20, 600), lambda ok, item: None, cancel=cancel)
    assert cancel.is_set()


def test_a_cancelled_build_stops_loading_with_build_cancelled() -> None:
    cancel = threading.Event()

    def batches() -> Iterator[list[dict[str, Any]]]:
        yield from _batches(2, 10)
        cancel.set()
        raise BuildCancelled()

    with pytest.raises(BuildCancelled):
        bulk_load(_EchoingClient(), batches(), lambda ok, item: None, cancel=cancel)
