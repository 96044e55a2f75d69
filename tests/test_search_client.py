"""The searches' Elasticsearch client with several nodes in ES_URL: a request whose node cuts the connection is
sent again to the next node at once, so no search fails while another node can answer (the three-node
version of this, with a node killed under load, is tests/test_cluster.py)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from govsearch.settings import Settings
from service.runtime import search_client


class ResettingNode:
    """A loopback port that accepts connections and drops them unanswered, like a node dying mid-request."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


@pytest.fixture
def dying_node() -> Iterator[ResettingNode]:
    node = ResettingNode()
    yield node
    node.sock.close()


def test_a_dropped_connection_is_retried_on_the_next_node(settings: Settings, dying_node: ResettingNode) -> None:
    live = settings.elasticsearch_hosts[0]
    cluster = settings.model_copy(update={"es_url": f"{dying_node.url},{live}", "es_request_timeout": 5.0})

    async def requests() -> list[str]:
        es = search_client(cluster)
        try:
            answers = []
            for _ in range(10):
                answers.append((await es.cluster.health())["cluster_name"])
                await asyncio.sleep(0.05)
            return answers
        finally:
            await es.close()

    names = asyncio.run(requests())
    assert dying_node.connections >= 1, "the dying node was never tried"
    assert len(names) == 10 and len(set(names)) == 1  # every request answered, by the live node
