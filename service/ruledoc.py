"""A list an administrator replaces whole, kept as one document in a system index: the synonym rules
(`service.synonyms`) and the hidden queries (`service.hidden`).

The document (id `current`) holds the list's lines and when they were stored. While the index holds
none, readers use the seed (the repo's synonym file; no hidden words), and the first admin read
(`RuleDocument.stored`) stores the seed there. Readers never write. Each process re-reads the document's
version at most `RULES_TTL` seconds after a change elsewhere, and at once after a change it made itself;
one version check runs at a time, and requests arriving meanwhile use the list they would have used a
moment earlier (the first request of a process waits for it). A list that cannot be read leaves the
previous one in place; a process that has read none yet uses the seed (`current`) or knows it has none
(`read`), and asks again after RETRY_SECONDS: a rule document never fails a search.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from elasticsearch import AsyncElasticsearch, ConflictError, NotFoundError

from indexer.elastic import SYSTEM_WRITE_REFRESH
from service.sysindex import ensure_system_index

log = logging.getLogger(__name__)

RULES_TTL = 10.0
RETRY_SECONDS = 1.0
"""How soon a process that could not read a list yet asks again (one attempt at a time, not one per request)."""
WRITE_TIMEOUT = 30.0
DOC_ID = "current"


class Lines(Protocol):
    """A parsed list: what it was parsed from, line by line, is what the document stores."""

    @property
    def lines(self) -> list[str]: ...


ListT = TypeVar("ListT", bound=Lines)


@dataclass(frozen=True)
class Stored(Generic[ListT]):
    value: ListT
    version: int | None  # the document's version in its index; None: the seed (not stored)
    updated: str | None


class RuleDocument(Generic[ListT]):
    """The live list of every API process: read from Elasticsearch, the seed while none is stored.

    `es`: the client; `index`: the system index, created from `mappings/<mapping>.json` on the first write;
    `field`: the document field holding the lines; `parse`: lines → the list (raises on a bad line; stored
    documents are parsed with it too); `seed`: the list used while none is stored; `name`: for the logs."""

    def __init__(self, es: AsyncElasticsearch, index: str, *, mapping: str, field: str,
                 parse: Callable[[list[str]], ListT], seed: Callable[[], ListT], name: str) -> None:
        self.es = es
        self.index = index
        self.mapping = mapping
        self.field = field
        self.parse = parse
        self.seed = seed
        self.name = name
        self._cache: tuple[float, Stored[ListT]] | None = None
        self._failed_at: float | None = None  # time.monotonic() of the last failed first read
        self._refreshing = asyncio.Lock()

    async def current(self) -> ListT:
        """The list to apply (cached; see the module docstring), the seed while none could be read. Never writes."""
        stored = await self._current()
        return self.seed() if stored is None else stored.value

    async def read(self) -> ListT | None:
        """As `current`, but None while no list could be read since the process started (the index unreachable):
        for a caller that must not fall back to the seed (hidden words: hide everything rather than nothing)."""
        stored = await self._current()
        return None if stored is None else stored.value

    async def _current(self) -> Stored[ListT] | None:
        if self._cache is not None and (not self._stale() or self._refreshing.locked()):
            return self._cache[1]
        if self._cache is None and self._failed_recently():
            return None
        async with self._refreshing:
            if self._cache is None and self._failed_recently():  # the request that held the lock just failed
                return None
            if self._cache is None or self._stale():
                try:
                    stored = await self._read(self._cache[1] if self._cache else None, seed=False)
                except Exception:
                    log.warning("%s: not readable from %s; keeping the previous list", self.name, self.index,
                                exc_info=True)
                    if self._cache is None:  # nothing to keep: asked again after RETRY_SECONDS, not RULES_TTL
                        self._failed_at = time.monotonic()
                        return None
                    stored = self._cache[1]
                self._cache = (time.monotonic(), stored)
            return self._cache[1]

    def _failed_recently(self) -> bool:
        return self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_SECONDS

    async def latest(self) -> Stored[ListT]:
        """The list as Elasticsearch holds it now, the seed (version None) if it holds none. Never writes."""
        return await self._read(None, seed=False)

    async def stored(self) -> Stored[ListT]:
        """The list as Elasticsearch holds it now, storing the seed first if it holds none."""
        stored = await self._read(None, seed=True)
        self._cache = (time.monotonic(), stored)
        return stored

    async def replace(self, value: ListT, expected: int | None = None) -> Stored[ListT]:
        """Store `value` as the whole list; this process uses it on return, the others within RULES_TTL.
        `expected`: the version the writer read; VersionConflict (nothing stored) when the stored list is at
        another version by then, so two admins editing the same list cannot silently undo each other."""
        stored = await self._write(value, create=False, expected=expected)
        self._cache = (time.monotonic(), stored)
        return stored

    def forget(self) -> None:
        """Drop the cached list: the next `current` reads the index again."""
        self._cache = None

    def _stale(self) -> bool:
        return self._cache is None or time.monotonic() - self._cache[0] > RULES_TTL

    def _seeded(self) -> Stored[ListT]:
        return Stored(self.seed(), None, None)

    async def _read(self, known: Stored[ListT] | None, *, seed: bool) -> Stored[ListT]:
        try:
            head = await self.es.get(index=self.index, id=DOC_ID, source=False)
        except NotFoundError:  # no index or no document yet
            if not seed:
                return known if known is not None and known.version is None else self._seeded()
            try:
                stored = await self._write(self.seed(), create=True)
            except ConflictError:  # another replica seeded it (or an admin stored a list) meanwhile
                return await self._read(None, seed=False)
            log.info("%s: %s seeded (%d lines)", self.name, self.index, len(stored.value.lines))
            return stored
        if known is not None and known.version == head["_version"]:
            return known
        document = await self.es.get(index=self.index, id=DOC_ID)
        source = document["_source"]
        return Stored(self.parse(source[self.field]), document["_version"], source["updated"])

    async def _write(self, value: ListT, *, create: bool, expected: int | None = None) -> Stored[ListT]:
        """Index the list as the one document (`create`: only if there is none; `expected`: only over that
        version, atomically), with an admin's patience: creating the index may take longer than a search may
        wait."""
        es = self.es.options(request_timeout=WRITE_TIMEOUT)
        await ensure_system_index(es, self.index, self.mapping)
        condition: dict[str, Any] = {"op_type": "create" if create else "index"}
        if expected is not None:
            try:
                head = await es.get(index=self.index, id=DOC_ID, source=False)
            except NotFoundError:
                raise VersionConflict(expected, None) from None
            if head["_version"] != expected:
                raise VersionConflict(expected, head["_version"])
            condition = {"if_seq_no": head["_seq_no"], "if_primary_term": head["_primary_term"]}
        updated = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            result = await es.index(index=self.index, id=DOC_ID, document={self.field: value.lines, "updated": updated},
                                    refresh=SYSTEM_WRITE_REFRESH, **condition)
        except ConflictError:
            if expected is None:
                raise
            raise VersionConflict(expected, None) from None  # written by another between the check and the write
        return Stored(value, result["_version"], updated)


class VersionConflict(Exception):
    """A replace based on a version the stored list is no longer at."""

    def __init__(self, expected: int, current: int | None) -> None:
        now = "changed since" if current is None else f"is at version {current}, not"
        super().__init__(f"the stored list {now} version {expected}: read it again, apply your change, put it back")
        self.expected = expected
        self.current = current
