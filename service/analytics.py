"""The search log: hot searches (GET /hot) and analytics (GET /admin/analytics), without personal data.

What is stored per search: the normalised query text, the time, the number of results; per result
click (POST /events/click from the page): the query, the article id and its position. Never an IP
address, a cookie, a user agent or an API key (`mappings/queries.json` is strict: nothing else fits).

Searches are never slowed by it: `record` only puts the event on a bounded in-process queue (dropped,
and counted, when full); one background task writes batches with `_bulk`, at most one per WRITE_INTERVAL
(`flush` writes at once). Hot searches count only queries that found something, so a typo is never
advertised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch

from service.errors import ServiceUnavailable
from service.query import analytics_search, hot_search, popular_queries_search
from service.sysindex import ensure_system_index

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
BATCH = 500
# Seconds an event waits for others before its batch is written: a busy API then sends one small `_bulk`
# per interval instead of one per search or two (each a write and a translog sync on the node; issue 11,
# bench/results/perf-notes.md). GET /hot and analytics see a search that much later.
WRITE_INTERVAL = 1.0


class QueryLog:
    def __init__(self, es: AsyncElasticsearch, index: str, hot_days: int) -> None:
        self.es = es
        self.index = index
        self.hot_days = hot_days
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0
        self._writer: asyncio.Task[None] | None = None
        self._write_now = asyncio.Event()  # set by `flush`: no more waiting for WRITE_INTERVAL
        self._ready = False

    def record_search(self, query: str, total: int) -> None:
        self._put({"kind": "search", "query": query, "total": total})

    def record_click(self, query: str, article_id: str, position: int) -> None:
        self._put({"kind": "click", "query": query, "article_id": article_id, "position": position})

    def _put(self, event: dict[str, Any]) -> None:
        event["timestamp"] = datetime.now(UTC).isoformat()
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            return
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        """Drain the queue in batches, each after WRITE_INTERVAL unless flushed, until it is empty (the next
        event starts a new writer)."""
        while not self.queue.empty():
            if not self._write_now.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._write_now.wait(), WRITE_INTERVAL)
            batch = [self.queue.get_nowait() for _ in range(min(BATCH, self.queue.qsize()))]
            try:
                await self._ensure_index()
                operations: list[dict[str, Any]] = []
                for event in batch:
                    operations.extend([{"create": {"_index": self.index}}, event])
                await self.es.bulk(operations=operations)
            except Exception:  # the log must never break searching: lose the batch, say so
                self.dropped += len(batch)
                log.warning("search log: %d events not written", len(batch), exc_info=True)

    async def flush(self) -> None:
        """Write every recorded event now and wait until it is searchable (tests, shutdown)."""
        if self._writer is not None:
            self._write_now.set()
            try:
                await self._writer
            finally:
                self._write_now.clear()
        if self._ready:
            await self.es.indices.refresh(index=self.index)

    async def _ensure_index(self) -> None:
        if self._ready:
            return
        await ensure_system_index(self.es, self.index, "queries")
        self._ready = True

    async def _search(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The log's answer; None when nothing was logged yet. A log index whose shard is not started
        (just created, or recovering) is a 503 `ServiceUnavailable`."""
        if not await self.es.indices.exists(index=self.index):
            return None  # nothing searched yet
        try:
            result: dict[str, Any] = (await self.es.search(index=self.index, **body)).body
        except ApiError as exc:
            if exc.meta.status == 503:
                raise ServiceUnavailable("the search log is not readable yet") from exc
            raise
        return result

    async def hot(self, size: int, min_searches: int) -> list[dict[str, Any]]:
        """The most searched queries of the last `hot_days` days that found something, each searched at
        least `min_searches` times (so no one person's query is shown to others): [{query, count}];
        empty while the log is unreadable (hot searches are a convenience, the page works without them)."""
        try:
            result = await self._search(hot_search(size, days=self.hot_days, min_searches=min_searches))
        except ServiceUnavailable:
            return []
        if result is None:
            return []
        return [{"query": b["key"], "count": b["doc_count"]} for b in result["aggregations"]["hot"]["buckets"]]

    async def popular(self, size: int, min_searches: int) -> list[dict[str, Any]]:
        """The `size` most searched queries of the last `hot_days` days that found something, searched at
        least `min_searches` times, with their searches per day (`service.popular` builds suggestions)."""
        body = popular_queries_search(size, days=self.hot_days, min_searches=min_searches)
        result = await self._search(body)
        return [] if result is None else list(result["aggregations"]["popular"]["buckets"])

    async def analytics(self, size: int, days: int) -> dict[str, Any]:
        """Top queries with their clicks and click-through, zero-result queries, and the totals."""
        result = await self._search(analytics_search(size, days=days))
        if result is None:
            return {"days": days, "searches": 0, "clicks": 0, "click_through": 0.0, "top_queries": [],
                    "zero_result_queries": [], "dropped": self.dropped}
        aggs = result["aggregations"]
        searches, clicks = aggs["searches"]["doc_count"], aggs["clicks"]["doc_count"]
        top = []
        for bucket in aggs["top"]["buckets"]:
            searched, clicked = bucket["searched"]["doc_count"], bucket["clicked"]["doc_count"]
            top.append({"query": bucket["key"], "searches": searched, "clicks": clicked,
                        "click_through": round(clicked / searched, 3) if searched else 0.0})
        return {
            "days": days, "searches": searches, "clicks": clicks,
            "click_through": round(clicks / searches, 3) if searches else 0.0,
            "top_queries": top,
            "zero_result_queries": [{"query": b["key"], "searches": b["doc_count"]}
                                    for b in aggs["zero"]["queries"]["buckets"]],
            "dropped": self.dropped,
        }
