"""The search log: hot searches (GET /hot) and analytics (GET /admin/analytics), without personal data.

What is stored per search: the normalised query text, the time, the number of results, whether a typo
correction was offered, and `searcher`: a pseudonym of the client's address that changes every UTC day
(`Pseudonyms`: a keyed hash whose key lives only in this process's memory and is replaced at midnight, so the
log can neither be traced back to an address nor link one person's searches across days). Per result click
(POST /events/click from the page): the query, the article id and its position. Never an IP address, a
cookie, a user agent or an API key (`mappings/queries.json` is strict: nothing else fits).

What may be shown to others (GET /hot, query suggestions: `shown`): queries searched by at least
SUGGEST_MIN_SEARCHES different searchers (pseudonyms) in the last HOT_DAYS days, that found something and were
not offered a correction, so neither one person's query nor a typo is advertised; and short, without contact
details or links (`publishable`), so that the list is no notice board for whoever can search from a few
addresses.

Searches are never slowed by it: `record` only puts the event on a bounded in-process queue (dropped,
and counted, when full); one background task writes batches with `_bulk`, at most one per WRITE_INTERVAL
(`flush` writes at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch

from service.errors import ServiceUnavailable
from service.query import analytics_search, shown_queries_search
from service.sysindex import ensure_system_index

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
BATCH = 500
# Seconds an event waits for others before its batch is written: a busy API then sends one small `_bulk`
# per interval instead of one per search or two (each a write and a translog sync on the node; issue 11,
# bench/results/perf-notes.md). GET /hot and analytics see a search that much later.
WRITE_INTERVAL = 1.0
# GET /hot asks for this many times the queries it lists: the most searched may be one person's (dropped by
# `shown`), and the log's terms aggregation cannot leave them out itself (its bucket filter needs scripting).
HOT_CANDIDATES = 5


class Pseudonyms:
    """The search log's `searcher` for a client address: HMAC-SHA256 under a random key of the current UTC
    day, 16 hex digits. The key is made when the day's first search is logged and never stored, so yesterday's
    pseudonyms cannot be recomputed, and each API process has its own: one person can count once per process
    (worker, replica) a day, never more."""

    def __init__(self, today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        self._today = today
        self._day: date | None = None
        self._key = b""

    def of(self, address: str) -> str:
        day = self._today()
        if day != self._day:
            self._day, self._key = day, secrets.token_bytes(32)
        return hmac.new(self._key, address.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


MAX_SHOWN_CHARS = 30
"""The longest past query shown to others: what residents search is short (the judged queries: at most 25
characters); a sentence on everyone's 热门搜索 is someone's message, not a search."""
# Contact details and links: a run of 7 or more digits (a phone number; hotlines such as 12345 or 12315 stay
# searchable), a word of 6 or more letters and digits with a letter and at least 3 digits (an account id:
# wx1234, fake123; COVID19 and H7N9 stay), an address or a link. No search for public information needs them, and
# a planted one is how a scam would use the list.
_CONTACT = re.compile(r"\d{7,}|(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[A-Za-z])(?=(?:[A-Za-z]*\d){3})[A-Za-z0-9]{6,}"
                      r"|@|https?:|www\.|\.(?:com|cn|net)\b", re.IGNORECASE)


def publishable(query: str) -> bool:
    """Whether a past query's text may be shown to others at all (MAX_SHOWN_CHARS, no contact details)."""
    return len(query) <= MAX_SHOWN_CHARS and _CONTACT.search(query) is None


def shown(bucket: dict[str, Any], min_searchers: int) -> bool:
    """Whether a query bucket of `service.query.shown_queries_search` may be shown to others: searched by at
    least `min_searchers` different searchers (the terms' `min_doc_count` is only a first cut: one person
    searching five times is five documents), and `publishable`."""
    return bool(bucket["searchers"]["value"] >= min_searchers) and publishable(bucket["key"])


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
        self.pseudonyms = Pseudonyms()

    def record_search(self, query: str, total: int, *, matched: bool, address: str, corrected: bool) -> None:
        """A search of `query` from client `address` (logged as its pseudonym only) that counted `total`
        results; `matched`: a result holds the query's words (not only articles near it in meaning, which
        never make it a popular query); `corrected`: a typo correction was offered for it."""
        self._put({"kind": "search", "query": query, "total": total, "matched": matched, "corrected": corrected,
                   "searcher": self.pseudonyms.of(address)})

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

    async def hot(self, size: int, min_searchers: int, hides: Callable[[str], bool]) -> list[dict[str, Any]]:
        """The `size` most searched queries of the last `hot_days` days that may be shown (`shown`) and
        that `hides` does not hide: [{query, count}]; empty while the log is unreadable (hot searches are a
        convenience, the page works without them)."""
        try:
            buckets = await self._shown(HOT_CANDIDATES * size, min_searchers, per_day=False)
        except ServiceUnavailable:
            return []
        return [{"query": b["key"], "count": b["doc_count"]} for b in buckets if not hides(b["key"])][:size]

    async def popular(self, size: int, min_searchers: int) -> list[dict[str, Any]]:
        """Of the `size` most searched queries of the last `hot_days` days, those that may be shown (`shown`),
        with their searches per day (`service.popular` builds suggestions)."""
        return await self._shown(size, min_searchers, per_day=True)

    async def _shown(self, size: int, min_searchers: int, *, per_day: bool) -> list[dict[str, Any]]:
        body = shown_queries_search(size, days=self.hot_days, min_searchers=min_searchers, per_day=per_day)
        result = await self._search(body)
        buckets = [] if result is None else result["aggregations"]["queries"]["buckets"]
        return [bucket for bucket in buckets if shown(bucket, min_searchers)]

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
