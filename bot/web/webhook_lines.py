"""Say the webhooks answered 2xx on the access log as one line a second per route and status: how many, their bytes, their time."""
from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Callable

WEBHOOKS = "/webhooks/"  # where the platforms add their webhook routes
SUMMED_SECONDS = 1.0
Later = Callable[[float, Callable[[], None]], asyncio.TimerHandle]


def _later(delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
    # An empty context: a summed line is no one request's, so it carries no request id (the one that started the timer would lend it its own).
    return asyncio.get_running_loop().call_later(delay, callback, context=contextvars.Context())


class WebhookLines:
    """Sum the webhooks answered 2xx by method, route and status; write each sum as one access line at most once a `period`.

    A platform sends webhooks by the thousand, and a line each cost more than the rest of an answer's
    own work on the web face: every other answer (a refused webhook, a page, the API) keeps its own line.
    """

    def __init__(self, logger: logging.Logger, period: float = SUMMED_SECONDS, later: Later = _later) -> None:
        self._logger, self._period, self._later = logger, period, later
        self._sums: dict[tuple[str, str, int], list[float]] = {}  # (method, route, status): [answers, bytes, seconds]
        self._due: asyncio.TimerHandle | None = None

    def add(self, method: str, route: str, status: int, size: int, seconds: float) -> None:
        """Count one answered webhook: its line is written within `period`."""
        summed = self._sums.get((method, route, status))
        if summed is None:
            self._sums[(method, route, status)] = [1, size, seconds]
        else:
            summed[0] += 1
            summed[1] += size
            summed[2] += seconds
        if self._due is None:
            self._due = self._later(self._period, self.write)

    def write(self) -> None:
        """Write a line for each sum since the last and start again (at shutdown too, so that nothing answered goes unsaid)."""
        if self._due is not None:
            self._due.cancel()  # harmless once it has run
            self._due = None
        sums, self._sums = self._sums, {}
        for (method, route, status), (answers, size, seconds) in sums.items():
            self._logger.info(
                '%d x "%s %s" %s %d %.3fs (webhooks answered %s, summed over at most %gs)',
                answers, method, route, status, size, seconds, status, self._period,
            )
