"""The framing pool: a worker that dies is replaced and the analysis goes on (bot/framing/analyzer.py)."""
from __future__ import annotations

import asyncio
import os
import signal

from bot.framing.analyzer import FramingAnalyzer

from . import photos as P


async def analysed_within(analyzer: FramingAnalyzer, jpeg: bytes, seconds: float) -> bool:
    """Offer the frame every tenth of a second (as a stream would) until one is analysed."""
    for _ in range(int(seconds * 10)):
        if await analyzer.analyse(jpeg) is not None:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_a_worker_that_dies_is_replaced_and_the_frames_after_it_are_analysed_again():
    analyzer = FramingAnalyzer(workers=1, timeout_seconds=10.0)
    frame = P.jpeg(P.grace_hopper())
    try:
        assert await analysed_within(analyzer, frame, 60)
        assert analyzer.restarts == 0
        (pid,) = analyzer._pool._processes  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer or a crash in a model would
        await asyncio.sleep(0.5)
        lost = analyzer.dropped + analyzer.failed
        assert await analysed_within(analyzer, frame, 60)
        assert analyzer.restarts == 1 and analyzer.dropped + analyzer.failed > lost  # the frames meanwhile are counted
        assert (pid,) != tuple(analyzer._pool._processes)  # type: ignore[union-attr]
    finally:
        await analyzer.stop()
