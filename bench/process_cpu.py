"""Read the CPU time a server process (and its children) has used, from /proc, for the benchmarks."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

TICK = 1 / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:  # the thread ended while we looked
            continue
    return found


def _own_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # the child ended while we looked
        return 0.0
    # After the name: state is field 3, utime 14 and stime 15 (proc(5)), so indexes 11 and 12 here.
    return (int(fields[11]) + int(fields[12])) * TICK


def cpu_seconds(pid: int) -> float:
    """Return the user and system CPU seconds of `pid` and of its living descendants."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        total += _own_seconds(current)
        pending += _children(current)
    return total


async def settled_cpu_seconds(pid: int, quiet: float = 0.02, step: float = 0.5, limit: float = 60.0) -> tuple[float, float]:
    """Wait until `pid` has used under `quiet` CPU seconds in a `step`; return its CPU seconds and the wait.

    The service acknowledges first and judges after, so work it owes for the load goes on past the last answer.
    """
    began = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() - began < limit:
        await asyncio.sleep(step)
        now = cpu_seconds(pid)
        if now - last < quiet:
            return now, time.monotonic() - began - step
        last = now
    return last, time.monotonic() - began
