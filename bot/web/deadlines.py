"""Hold every request to its deadline with one timer for them all, not a timer a request."""
from __future__ import annotations

import asyncio
import contextvars
from types import TracebackType


class Deadlines:
    """Cut off whatever runs past `seconds` the way `asyncio.timeout` does, checked every `tick` seconds by one timer.

    `asyncio.timeout` schedules a timer for each request and cancels it at the answer: at thousands of webhooks a
    second, that is a good part of the guard's own work. Here a request only joins and leaves a set; one timer,
    running while any request is held, cancels each task whose deadline has passed (at most `tick` late).
    """

    def __init__(self, seconds: float, tick: float | None = None) -> None:
        self.seconds = seconds
        self.tick = tick if tick is not None else min(1.0, seconds / 8)
        self._held: set[Deadline] = set()
        self._timer: asyncio.TimerHandle | None = None

    def hold(self) -> Deadline:
        """Return the deadline of the task that enters it, `seconds` from then (an `async with`)."""
        return Deadline(self)

    def _join(self, deadline: Deadline) -> None:
        self._held.add(deadline)
        if self._timer is None:
            # An empty context: the check is no one request's (the one that started it would lend it its id).
            self._timer = asyncio.get_running_loop().call_later(self.tick, self._check, context=contextvars.Context())

    def _leave(self, deadline: Deadline) -> None:
        self._held.discard(deadline)

    def _check(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for deadline in self._held:
            if not deadline.expired() and deadline.when <= now:
                deadline.expire()
        self._timer = loop.call_later(self.tick, self._check, context=contextvars.Context()) if self._held else None


class Deadline:
    """One task's deadline: past it the task is cancelled, and the `async with` raises TimeoutError (as `asyncio.timeout`)."""

    __slots__ = ("_deadlines", "_task", "_cancelling", "_expired", "when")

    def __init__(self, deadlines: Deadlines) -> None:
        self._deadlines = deadlines
        self._expired = False
        self.when = 0.0

    async def __aenter__(self) -> Deadline:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline holds a task: enter it from one")
        self._task, self._cancelling = task, task.cancelling()
        self.when = asyncio.get_running_loop().time() + self._deadlines.seconds
        self._deadlines._join(self)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._deadlines._leave(self)
        # As asyncio.timeout: the cancellation was ours, unless someone else's came too (then it stays a cancellation).
        if self._expired and self._task.uncancel() <= self._cancelling and kind is asyncio.CancelledError:
            raise TimeoutError from error

    @property
    def seconds(self) -> float:
        """Return how long the task may run."""
        return self._deadlines.seconds

    def expired(self) -> bool:
        """Return whether the deadline passed (and the task was cancelled for it)."""
        return self._expired

    def expire(self) -> None:
        """Cancel the task now, as its deadline passed."""
        self._expired = True
        self._task.cancel()
