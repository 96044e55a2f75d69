"""Popular past queries as suggestions: the search log, aggregated into a small list kept in memory.

What goes in: queries of the last HOT_DAYS days that may be shown to others (`service.analytics.shown`:
searched by at least SUGGEST_MIN_SEARCHES different searchers, found something, offered no correction),
at most `MAX_POPULAR` of them; those holding a hidden word (`service.hidden`) are left out when the list is
read, so hiding a word applies at once. Each is weighted by its
searches, a search `d` days old counting 0.5^(d / SUGGEST_HALF_LIFE_DAYS), and is matched by its text and its
pinyin forms (`govsearch.pinyin`, as titles are).

A keystroke never touches the log: `matching` reads `PopularIndex` in memory (sorted keys searched by
bisection: well under a millisecond for 2,000 queries); when the list is older than
SUGGEST_REFRESH_SECONDS, it starts one background refresh (one aggregation) and answers from the list
it has. A refresh that fails keeps the previous list.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from govsearch import pinyin
from service.analytics import QueryLog, shown
from service.hidden import HiddenQueries, Hides

log = logging.getLogger(__name__)

MAX_POPULAR = 2000
"""Popular queries kept per process (a few MB with their text and pinyin suffixes)."""

DAY_SECONDS = 86_400.0

# How a past query matches what was typed, best first: the whole query starts with it (characters or
# full pinyin), its initials do, a later word starts with it (characters or full pinyin), a later
# word's initials do.
PREFIX, PREFIX_INITIALS, INNER, INNER_INITIALS = range(4)


@dataclass(frozen=True)
class PopularQuery:
    query: str  # as logged: normalize_text of what was searched
    searches: int  # in the window
    weight: float  # searches decayed by age


def from_buckets(buckets: Iterable[dict[str, Any]], *, min_searchers: int, half_life_days: float,
                 now: float) -> list[PopularQuery]:
    """The popular queries in the log's aggregation (`service.query.shown_queries_search`), heaviest
    first: those that may not be shown (`shown`) left out (`QueryLog.popular` drops them already; they are
    checked here again so that no other caller of this function can skip the rule)."""
    popular = []
    for bucket in buckets:
        query, searches = bucket["key"], bucket["doc_count"]
        if not shown(bucket, min_searchers):
            continue
        weight = sum(day["doc_count"] * 0.5 ** (max(0.0, now - day["key"] / 1000) / DAY_SECONDS / half_life_days)
                     for day in bucket["days"]["buckets"])
        popular.append(PopularQuery(query, searches, weight))
    popular.sort(key=lambda p: (-p.weight, p.query))
    return popular


class _Prefixes:
    """Sorted keys, each with a rank `tier * n + number` (n: how many queries): the keys starting with a
    prefix are one contiguous run, found by bisection, and a query's best match is its smallest rank."""

    def __init__(self, rows: list[tuple[str, int]]) -> None:
        rows.sort()
        self.keys = [key for key, _ in rows]
        self.ranks = [rank for _, rank in rows]

    def ranks_of(self, prefix: str) -> list[int]:
        """The distinct ranks of the keys that start with `prefix`, smallest first."""
        lo = bisect_left(self.keys, prefix)
        hi = bisect_left(self.keys, prefix + _LAST, lo)
        return sorted(set(self.ranks[lo:hi]))


_LAST = chr(0x10FFFF)  # sorts after every character a key holds


class PopularIndex:
    """Popular queries by the ways they match what is typed, looked up by binary search (a keystroke
    costs a walk over the matching keys only, not over the whole list).

    Chinese input matches a query that starts with it (PREFIX) or holds it later (INNER). Pinyin input
    (`govsearch.pinyin.is_pinyin_query`: aqsc, anquan, 安quan) matches the full pinyin or initials of the
    query (PREFIX, PREFIX_INITIALS) or of a later part of it (INNER, INNER_INITIALS), the forms titles
    are indexed with (`govsearch.pinyin.suffix_forms`)."""

    def __init__(self, popular: list[PopularQuery]) -> None:
        self.popular = popular  # heaviest first (`from_buckets`): a smaller number is a heavier query
        n = len(popular)
        text_rows: list[tuple[str, int]] = []
        pinyin_rows: list[tuple[str, int]] = []
        for number, entry in enumerate(popular):
            text = entry.query.lower()
            text_rows += [(text[i:], (PREFIX if i == 0 else INNER) * n + number) for i in range(len(text))]
            full, initials = pinyin.suffix_forms(entry.query)
            pinyin_rows += [(form, (PREFIX if i == 0 else INNER) * n + number) for i, form in enumerate(full)]
            pinyin_rows += [(form, (PREFIX_INITIALS if i == 0 else INNER_INITIALS) * n + number)
                            for i, form in enumerate(initials)]
        self._text = _Prefixes(text_rows)
        self._pinyin = _Prefixes(pinyin_rows)

    def matching(self, typed: str, size: int, hides: Hides = lambda query: False) -> list[PopularQuery]:
        """The `size` queries that match `typed` (normalised) best, by how they match, then by weight; none
        that `hides`."""
        text = typed.lower().strip()
        if not text:
            return []
        if pinyin.is_pinyin_query(text):
            form = pinyin.query_form(text)
            ranks = self._pinyin.ranks_of(form) if form else []
        else:
            ranks = self._text.ranks_of(text)
        n = len(self.popular)
        chosen: dict[int, None] = {}  # query numbers in rank order; the first rank of each is its best
        for rank in ranks:
            if rank % n in chosen or hides(self.popular[rank % n].query):
                continue
            chosen[rank % n] = None
            if len(chosen) == size:
                break
        return [self.popular[number] for number in chosen]


class PopularQueries:
    """The process's list of popular queries, refreshed from the search log in the background."""

    def __init__(self, query_log: QueryLog, *, min_searchers: int, half_life_days: float, refresh_seconds: float,
                 hidden: HiddenQueries) -> None:
        self.query_log = query_log
        self.min_searchers = min_searchers
        self.half_life_days = half_life_days
        self.refresh_seconds = refresh_seconds
        self.hidden = hidden
        self.index = PopularIndex([])
        self._refreshed: float | None = None  # time.monotonic() of the last refresh attempt
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        """Re-aggregate the log now; on failure keep the list as it was (suggestions are a convenience)."""
        self._refreshed = time.monotonic()
        try:
            buckets = await self.query_log.popular(MAX_POPULAR, self.min_searchers)
        except Exception:
            log.warning("popular queries: the search log is not readable; keeping %d", len(self.index.popular),
                        exc_info=True)
            return
        popular = from_buckets(buckets, min_searchers=self.min_searchers, half_life_days=self.half_life_days,
                               now=time.time())
        # Pinyin for a few thousand queries takes a fraction of a second: not on the event loop.
        self.index = await asyncio.to_thread(PopularIndex, popular)

    async def matching(self, typed: str, size: int) -> list[PopularQuery]:
        """The best `size` popular queries for `typed` (normalised) that no hidden word hides, from memory;
        starts a background refresh when the list is older than `refresh_seconds` (and none is running)."""
        stale = self._refreshed is None or time.monotonic() - self._refreshed > self.refresh_seconds
        if stale and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self.refresh())
        return self.index.matching(typed, size, await self.hidden.hides())

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
