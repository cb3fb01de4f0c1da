"""Admission control: at most `max_active` chat requests in the pipeline, at most `max_queued`
waiting; anything beyond is refused at once (HTTP 429 with Retry-After) instead of waiting
without bound. No FastAPI in here.

    gate = Admission(max_active=4, max_queued=8)
    async with gate.slot():          # raises Busy when active and queue are full
        ...                          # the request's retrieval and LLM work

Retry-After is an estimate: the mean of the last requests' service time, times how many requests
are ahead, spread over the active slots (at least 1 s). The per-request deadline is the caller's
(serve.py wraps the whole request, queue wait included, in asyncio.timeout). Left out: per-key or
per-user fairness, priorities, a distributed limit across processes.
"""

from __future__ import annotations

import asyncio
import math
import time
from contextlib import asynccontextmanager

from agent.errors import MarqueeError


class Busy(MarqueeError):
    """Every slot and queue place is taken; `retry_after` seconds is the estimated wait."""

    status = 429
    type = "rate_limit_exceeded"
    code = "server_busy"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class DeadlineExceeded(MarqueeError):
    status = 504
    type = "timeout_error"
    code = "deadline_exceeded"


class Admission:
    def __init__(self, max_active: int, max_queued: int):
        self.max_active = max_active
        self.max_queued = max_queued
        self._sem = asyncio.Semaphore(max_active)
        self.active = 0
        self.waiting = 0
        self._mean_s = 5.0  # service-time estimate until requests have been measured
        self.refused = 0

    def retry_after(self) -> int:
        """Seconds until a slot is likely free for a new request.

        >>> a = Admission(2, 2); a.waiting = 2; a._mean_s = 3.0; a.retry_after()  # 3 ahead x 3 s / 2 slots
        5
        """
        ahead = self.waiting + 1
        return max(1, math.ceil(self._mean_s * ahead / self.max_active))

    @asynccontextmanager
    async def slot(self):
        if self.active + self.waiting >= self.max_active + self.max_queued:
            self.refused += 1
            wait = self.retry_after()
            raise Busy(f"the server is busy ({self.active} requests running, {self.waiting} waiting): "
                       f"retry in about {wait} s", retry_after=wait)
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.active += 1
        start = time.monotonic()
        try:
            yield
        finally:
            self.active -= 1
            self._sem.release()
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.monotonic() - start)
