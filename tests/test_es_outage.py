"""When Elasticsearch goes away the API answers 503 JSON quickly, and recovers by itself.

A small TCP relay stands between the API and the real node, so the test can cut
the connection (refused), make it hang (accepted, never answered) and restore it
without touching the node the rest of the suite uses.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from govsearch.settings import Settings
from service.main import create_app


class Relay:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "forward"  # or "refuse" or "hang"
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.open.append(client)
            if self.mode == "refuse":
                client.close()
            elif self.mode == "forward":
                upstream = socket.create_connection(self.target)
                self.open.append(upstream)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()
            # "hang": keep the socket open and never answer

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self, mode: str) -> None:
        self.mode = mode
        for s in self.open:  # drop pooled keep-alive connections too
            with contextlib.suppress(OSError):
                s.close()
        self.open.clear()

    def close(self) -> None:
        self._stop = True
        self.cut("refuse")
        self.listener.close()


@pytest.fixture
def relay(settings: Settings, sample_index: object) -> Iterator[Relay]:
    url = urlparse(settings.elasticsearch_url)
    relay = Relay((url.hostname or "127.0.0.1", url.port or 9200))
    yield relay
    relay.close()


def _timed_search(client: TestClient) -> tuple[int, float, dict]:
    started = time.monotonic()
    response = client.get("/search", params={"q": "安全生产检查"})
    return response.status_code, time.monotonic() - started, response.json()


@pytest.mark.parametrize("failure", ["refuse", "hang"])
def test_search_answers_503_quickly_and_recovers(settings: Settings, relay: Relay, failure: str) -> None:
    # The shipped deadlines (the session's settings are patient for loaded machines): a hang answers 503 in ~1.5 s.
    shipped = Settings(_env_file=None)  # type: ignore[call-arg]
    relayed = settings.model_copy(update={"es_url": f"http://127.0.0.1:{relay.port}",
                                          "es_request_timeout": shipped.es_request_timeout,
                                          "es_search_timeout": shipped.es_search_timeout})
    with TestClient(create_app(relayed)) as client:
        status, _, _ = _timed_search(client)
        assert status == 200

        relay.cut(failure)
        status, seconds, body = _timed_search(client)
        assert status == 503 and body["error"]["code"] == "unavailable"
        assert seconds < 2.0
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200

        relay.cut("forward")
        status, _, body = _timed_search(client)
        assert status == 200 and body["hits"]
        assert client.get("/readyz").status_code == 200


def test_readiness_waits_for_the_shards_behind_the_alias(settings: Settings, es) -> None:  # type: ignore[no-untyped-def]
    """Right after a node restart the alias exists while its shards recover, and searches answer 503: a load
    balancer must not be told the replica is ready then. Unassignable shards stand in for recovering ones."""
    index, alias = "test-readiness-red", "test-readiness-alias"
    es.indices.delete(index=index, ignore_unavailable=True)
    es.indices.create(index=index, settings={"number_of_replicas": 0,
                                             "routing.allocation.require._name": "no-such-node"},
                      aliases={alias: {}}, wait_for_active_shards="0")
    try:
        with TestClient(create_app(settings.model_copy(update={"index_alias": alias}))) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503 and "not started" in ready.json()["reason"], ready.text
            es.indices.put_settings(index=index, settings={"routing.allocation.require._name": None})
            es.cluster.health(index=index, wait_for_status="green", timeout="30s")
            assert client.get("/readyz").status_code == 200
    finally:
        es.indices.delete(index=index, ignore_unavailable=True)
