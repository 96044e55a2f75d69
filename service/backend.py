"""The search backend seam: what the `Searcher` needs from Elasticsearch, as a small protocol.

In the spirit of httpx's transports: the searcher builds request bodies and interprets
responses; a backend only carries them. `ElasticsearchBackend` is the real one; unit tests
and the performance benchmark plug in their own (a recorded response, a body capture)
instead of overriding the searcher's internals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from elasticsearch import AsyncElasticsearch

from service.errors import TRANSIENT_ES_STATUSES, ServiceUnavailable

log = logging.getLogger(__name__)

Body = dict[str, Any]


class SearchRejected(RuntimeError):
    """Elasticsearch refused a search body (a 4xx other than a missing index): the request does not fit
    the index, e.g. a query vector of another size than the index's vectors."""


class SearchBackend(Protocol):
    async def msearch(self, index: str, bodies: Sequence[Body]) -> list[Body]:
        """Run the search `bodies` against `index` in one round trip; one response each, in order.

        `index` is the alias for candidate searches, and the concrete index (or comma-separated
        indices) that answered them for the follow-up fetch of the page's hits. Raises
        `ServiceUnavailable` when the index does not exist or is not ready, `SearchRejected` when a
        body is refused."""
        ...

    async def analyze(self, index: str, field: str, text: str) -> list[str]:
        """The tokens `field`'s analysis in `index` makes of `text`, in order: the words a search of that field
        looks for (smartcn: 工资 → [工资], 堡镇 → [堡, 镇], 户及 → [户], its stop word 及 dropped)."""
        ...


def shards_failed(response: Body) -> int:
    """How many shards failed to answer `response` (a node left mid-search; ES still answers, partially)."""
    return int(response.get("_shards", {}).get("failed", 0))


class ElasticsearchBackend:
    """`_msearch` on a real cluster through the official async client.

    A search a shard failed to answer is run once more: when a node leaves mid-search (killed, restarted),
    the coordinating node has already queried its shard copies but cannot fetch their hits, and answers
    with the total but without those hits. Asked again, it reads the surviving copies. A second partial
    answer is returned as it is (the searcher reports it `degraded`)."""

    def __init__(self, es: AsyncElasticsearch) -> None:
        self.es = es

    async def msearch(self, index: str, bodies: Sequence[Body]) -> list[Body]:
        responses = await self._msearch(index, bodies)
        if any(shards_failed(response) for response in responses):
            log.warning("a shard failed to answer (%s); searching again",
                        [response["_shards"].get("failures") for response in responses if shards_failed(response)])
            responses = await self._msearch(index, bodies)
        return responses

    async def analyze(self, index: str, field: str, text: str) -> list[str]:
        result = await self.es.indices.analyze(index=index, field=field, text=text)
        return [token["token"] for token in result.get("tokens", [])]

    async def _msearch(self, index: str, bodies: Sequence[Body]) -> list[Body]:
        searches: list[Body] = []
        for body in bodies:
            searches.extend([{"index": index}, body])
        # Each named clause's score, not just its name (the ranker's clause features, `service.query.BM25_CLAUSES`).
        result = await self.es.msearch(searches=searches, include_named_queries_score=True)
        responses: list[Body] = result["responses"]
        for response in responses:
            if "error" in response:
                error = response["error"]
                if isinstance(error, dict) and error.get("type") == "index_not_found_exception":
                    raise ServiceUnavailable("the search index is not built yet", es_kind="index_missing")
                if response.get("status") in TRANSIENT_ES_STATUSES:
                    raise ServiceUnavailable("the search backend is not ready (shards recovering or busy)",
                                             es_kind="api_error")
                raise SearchRejected(f"Elasticsearch rejected a search: {error}")
        return responses
