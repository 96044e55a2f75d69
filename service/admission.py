"""Admission control: a bound on the searches one API process runs at once.

Past what Elasticsearch can work on in parallel (its search thread pool: 4 on 2 cores), more
concurrent searches only queue, inside the node or in the event loop, until they all time out
together. So a search takes a slot first; when every slot is taken it may wait a short moment
(`ADMISSION_QUEUE_WAIT`) for one, and is otherwise answered at once with 503 `overloaded` and a
`Retry-After`, which a portal or a load balancer can act on.

Slots are handed over first come, first served: a released slot goes to the longest waiter.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from service.errors import ApiError

RETRY_AFTER_SECONDS = 1


class Overloaded(ApiError):
    """503 `overloaded`: every search slot is taken; try again in a moment."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(503, "overloaded", message, headers={"Retry-After": str(retry_after)})


class Admission:
    """At most `limit` holders at once; a newcomer waits at most `queue_wait` seconds, else is shed.

    Counters (read by /admin/stats and the benchmark): `admitted`, `shed`, `in_flight`, `waiting`.
    Lives in one event loop (asyncio, not thread-safe), like the searcher that uses it.
    """

    def __init__(self, limit: int, queue_wait: float, *, what: str = "searches") -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.queue_wait = max(0.0, queue_wait)
        self.what = what
        self.in_flight = 0
        self.admitted = 0
        self.shed = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    def stats(self) -> dict[str, int | float]:
        return {"limit": self.limit, "queue_wait": self.queue_wait, "in_flight": self.in_flight,
                "waiting": self.waiting, "admitted": self.admitted, "shed": self.shed}

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the body of the `async with`; raises `Overloaded` when none frees in time."""
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    async def _acquire(self) -> None:
        if self.in_flight < self.limit and not self.waiting:
            self.in_flight += 1
            self.admitted += 1
            return
        if self.queue_wait > 0:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                # The slot is handed over by `_release` (in_flight unchanged), so set means ours.
                await asyncio.wait_for(waiter, self.queue_wait)
            except TimeoutError:
                pass
            except BaseException:  # cancelled (client gone): give back a slot handed over meanwhile
                if waiter.done() and not waiter.cancelled():
                    self._release()
                raise
            finally:
                if not waiter.done():
                    waiter.cancel()
                with suppress(ValueError):
                    self._waiters.remove(waiter)
            if waiter.done() and not waiter.cancelled():
                self.admitted += 1
                return
        self.shed += 1
        raise Overloaded(f"too many {self.what} in progress ({self.limit} at a time); "
                         f"try again in {RETRY_AFTER_SECONDS} s")

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to the longest waiter
                return
        self.in_flight -= 1
