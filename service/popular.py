"""Popular past queries as suggestions: the search log, aggregated into a small list kept in memory.

What goes in: queries of the last HOT_DAYS days that found something, each searched at least
SUGGEST_MIN_SEARCHES times (the privacy floor: a query one person typed is never shown to others; the
log holds no identity, so the floor counts searches), none containing a SUGGEST_HIDDEN_QUERIES word,
at most `MAX_POPULAR` of them. Each is weighted by its searches, a search `d` days old counting
0.5^(d / SUGGEST_HALF_LIFE_DAYS), and carries its pinyin forms (`govsearch.pinyin`, as titles do).

A keystroke never touches the log: `matching` reads the list in memory; when it is older than
SUGGEST_REFRESH_SECONDS, it starts one background refresh (one aggregation) and answers from the list
it has. A refresh that fails keeps the previous list.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from govsearch import pinyin
from govsearch.rules import normalize_text
from service.analytics import QueryLog

log = logging.getLogger(__name__)

MAX_POPULAR = 2000
"""Popular queries kept per process (a few hundred KB with their pinyin forms; scanned per keystroke)."""

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
    full: tuple[str, ...]  # full pinyin of every suffix (govsearch.pinyin.suffix_forms)
    initials: tuple[str, ...]

    @classmethod
    def of(cls, query: str, searches: int, weight: float) -> PopularQuery:
        full, initials = pinyin.suffix_forms(query)
        return cls(query, searches, weight, tuple(full), tuple(initials))

    def match(self, text: str, form: str | None) -> int | None:
        """How this query matches `text` (normalised, lower case), or None. `form` is the pinyin form of
        `text` when it was typed in pinyin (`govsearch.pinyin.query_form`), else None."""
        if form is None:
            key = self.query.lower()
            return PREFIX if key.startswith(text) else INNER if text in key else None
        if not form:
            return None
        if self.full and self.full[0].startswith(form):
            return PREFIX
        if self.initials and self.initials[0].startswith(form):
            return PREFIX_INITIALS
        if any(suffix.startswith(form) for suffix in self.full[1:]):
            return INNER
        if any(suffix.startswith(form) for suffix in self.initials[1:]):
            return INNER_INITIALS
        return None


def hidden_by(query: str, hidden: Iterable[str]) -> bool:
    """True when `query` contains an administrator-hidden word (both normalised, case-insensitive)."""
    key = query.lower()
    return any(word and normalize_text(word).lower() in key for word in hidden)


def from_buckets(buckets: Iterable[dict[str, Any]], *, min_searches: int, half_life_days: float,
                 hidden: Iterable[str], now: float) -> list[PopularQuery]:
    """The popular queries in the log's aggregation (`service.query.popular_queries_search`), heaviest
    first: below the privacy floor or hidden ones left out (the floor is also in the request, as
    `min_doc_count`; it is applied here again so that no other caller of this function can skip it)."""
    hidden = list(hidden)
    popular = []
    for bucket in buckets:
        query, searches = bucket["key"], bucket["doc_count"]
        if searches < min_searches or hidden_by(query, hidden):
            continue
        weight = sum(day["doc_count"] * 0.5 ** (max(0.0, now - day["key"] / 1000) / DAY_SECONDS / half_life_days)
                     for day in bucket["days"]["buckets"])
        popular.append(PopularQuery.of(query, searches, weight))
    popular.sort(key=lambda p: (-p.weight, p.query))
    return popular


def ranked_matches(popular: Iterable[PopularQuery], typed: str, size: int) -> list[PopularQuery]:
    """The `size` popular queries that match `typed` (normalised) best: by how they match (`match`), then
    by weight, then alphabetically."""
    text = typed.lower().strip()
    if not text:
        return []
    form = pinyin.query_form(text) if pinyin.is_pinyin_query(text) else None
    matched = [(tier, p) for p in popular if (tier := p.match(text, form)) is not None]
    matched.sort(key=lambda item: (item[0], -item[1].weight, item[1].query))
    return [p for _, p in matched[:size]]


class PopularQueries:
    """The process's list of popular queries, refreshed from the search log in the background."""

    def __init__(self, query_log: QueryLog, *, min_searches: int, half_life_days: float, refresh_seconds: float,
                 hidden: Iterable[str]) -> None:
        self.query_log = query_log
        self.min_searches = min_searches
        self.half_life_days = half_life_days
        self.refresh_seconds = refresh_seconds
        self.hidden = tuple(hidden)
        self.popular: list[PopularQuery] = []
        self._refreshed: float | None = None  # time.monotonic() of the last refresh attempt
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        """Re-aggregate the log now; on failure keep the list as it was (suggestions are a convenience)."""
        self._refreshed = time.monotonic()
        try:
            buckets = await self.query_log.popular(MAX_POPULAR, self.min_searches)
        except Exception:
            log.warning("popular queries: the search log is not readable; keeping %d", len(self.popular),
                        exc_info=True)
            return
        self.popular = from_buckets(buckets, min_searches=self.min_searches, half_life_days=self.half_life_days,
                                    hidden=self.hidden, now=time.time())

    def matching(self, typed: str, size: int) -> list[PopularQuery]:
        """The best `size` popular queries for `typed` (normalised), from memory; starts a background
        refresh when the list is older than `refresh_seconds` (and none is running)."""
        stale = self._refreshed is None or time.monotonic() - self._refreshed > self.refresh_seconds
        if stale and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self.refresh())
        return ranked_matches(self.popular, typed, size)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
