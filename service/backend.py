"""The search backend seam: what the `Searcher` needs from Elasticsearch, as a small protocol.

In the spirit of httpx's transports: the searcher builds request bodies and interprets
responses; a backend only carries them. `ElasticsearchBackend` is the real one; unit tests
and the performance benchmark plug in their own (a recorded response, a body capture)
instead of overriding the searcher's internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from elasticsearch import AsyncElasticsearch

from service.errors import TRANSIENT_ES_STATUSES, ServiceUnavailable

Body = dict[str, Any]


class SearchBackend(Protocol):
    async def msearch(self, index: str, bodies: Sequence[Body]) -> list[Body]:
        """Run the search `bodies` against `index` in one round trip; one response each, in order.

        `index` is the alias for candidate searches, and the concrete index (or comma-separated
        indices) that answered them for the follow-up fetch of the page's hits. Raises
        `ServiceUnavailable` when the index does not exist."""
        ...


class ElasticsearchBackend:
    """`_msearch` on a real cluster through the official async client."""

    def __init__(self, es: AsyncElasticsearch) -> None:
        self.es = es

    async def msearch(self, index: str, bodies: Sequence[Body]) -> list[Body]:
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
                    raise ServiceUnavailable("the search index is not built yet")
                if response.get("status") in TRANSIENT_ES_STATUSES:
                    raise ServiceUnavailable("the search backend is not ready (shards recovering or busy)")
                raise RuntimeError(f"Elasticsearch rejected a search: {error}")
        return responses
