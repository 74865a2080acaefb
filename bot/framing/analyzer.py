"""Run the framing analysis off the event loop in a small process pool; drop and count what cannot be done in time."""
from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import logging
import multiprocessing

from bot.core.framing import FramingObservation

from . import analysis

_LOGGER = logging.getLogger(__name__)
IN_FLIGHT_PER_WORKER = 2  # one being analysed and one ready next: more would only age in the pool's queue


def vision_stack_missing() -> list[str]:
    """Return the libraries of the vision stack that are not installed (none: the analysis can run)."""
    return [name for name in ("mediapipe", "cv2", "numpy") if importlib.util.find_spec(name) is None]


class FramingAnalyzer:
    """A process pool that turns JPEG frames into observations; started on the first frame, models loaded once per worker."""

    def __init__(self, workers: int = 1, timeout_seconds: float = 2.0) -> None:
        self.workers = workers
        self.timeout_seconds = timeout_seconds
        self.analysed = 0
        self.dropped = 0  # frames not analysed in time: the pool was busy or warming up, or too slow
        self.failed = 0
        self.restarts = 0  # the pool was replaced after a worker died
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._ready: asyncio.Future[list[None]] | None = None  # every worker's models loaded
        self._in_flight = 0

    def start(self) -> None:
        """Start the workers and load their models in the background."""
        if self._pool is not None:
            return
        # spawn: a forked child of a process running an event loop and threads may inherit held locks.
        self._pool = concurrent.futures.ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"), initializer=analysis.load_models)
        loop = asyncio.get_running_loop()
        warm = [loop.run_in_executor(self._pool, analysis.load_models) for _ in range(self.workers)]
        self._ready = asyncio.ensure_future(asyncio.gather(*warm))
        self._ready.add_done_callback(self._warmed)

    def _restart(self, pool: concurrent.futures.ProcessPoolExecutor) -> None:
        """Replace a pool a worker died in (killed, out of memory, a crash in a model): the analysis goes on after a reload."""
        if self._pool is not pool:
            return  # another frame of the same pool already restarted it
        self.restarts += 1
        _LOGGER.warning("a framing worker died: restarting the workers (restart %d); frames are dropped while they load", self.restarts)
        self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)  # its processes are gone or going; its queued frames fail
        self.start()

    async def analyse(self, jpeg: bytes) -> FramingObservation | None:
        """Return the frame's observation, or None when it is unreadable or was dropped."""
        self.start()
        assert self._pool is not None and self._ready is not None
        if not self._ready.done() or self._ready.exception() is not None or self._in_flight >= self.capacity:
            self.dropped += 1
            return None
        pool = self._pool
        try:
            job = pool.submit(analysis.analyse, jpeg)
        except concurrent.futures.BrokenExecutor:
            self.dropped += 1
            self._restart(pool)
            return None
        self._in_flight += 1
        loop = asyncio.get_running_loop()
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(self._finished))
        try:
            async with asyncio.timeout(self.timeout_seconds):
                seen = await asyncio.wrap_future(job)
        except TimeoutError:
            job.cancel()  # only stops it if it has not started: a running analysis finishes and is ignored
            self.dropped += 1
            return None
        except concurrent.futures.BrokenExecutor:  # the worker died under this frame (or another one in the pool)
            self.failed += 1
            self._restart(pool)
            return None
        except Exception as err:  # a frame that breaks a model must not stop the analysis of the next
            self.failed += 1
            _LOGGER.warning("framing analysis failed on a frame: %s", type(err).__name__)
            return None
        self.analysed += 1
        return seen

    async def stop(self) -> None:
        """Stop the workers, dropping frames still queued."""
        pool, self._pool = self._pool, None
        if self._ready is not None and not self._ready.done():
            self._ready.cancel()
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)

    @property
    def capacity(self) -> int:
        """Return how many frames may be in the pool at once."""
        return self.workers * IN_FLIGHT_PER_WORKER

    def _finished(self) -> None:
        self._in_flight -= 1

    def _warmed(self, ready: asyncio.Future[list[None]]) -> None:
        if ready.cancelled():
            return
        if (err := ready.exception()) is not None:
            _LOGGER.error("framing analysis unavailable: the models did not load (%s)", type(err).__name__)
        else:
            _LOGGER.info("framing analysis ready: %d worker(s)", self.workers)
