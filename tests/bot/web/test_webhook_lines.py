"""The access log sums the webhooks answered 2xx, one line a second per route and status; every other answer keeps its own line."""
from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import datetime, timezone
from typing import Callable

import aiohttp

from bot.config.log_format import REQUEST_ID
from bot.web.serving import start
from bot.web.webhook_lines import WebhookLines
from integrations.zoom.scripted.webhooks import ScriptedMeeting
from tests.conftest import THERAPIST_A_HOST, signed_headers

LOGGER = "tests.webhook_lines"


class Timers:
    """Stands in for the loop's call_later: the test runs each timer when it chooses."""

    def __init__(self) -> None:
        self.due: list[tuple[float, Callable[[], None], asyncio.TimerHandle]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        handle = asyncio.TimerHandle(0.0, callback, (), asyncio.get_running_loop())
        self.due.append((delay, callback, handle))
        return handle


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


async def test_webhooks_are_summed_per_route_and_status_on_one_line_a_period(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    timers = Timers()
    summed = WebhookLines(logging.getLogger(LOGGER), 1.0, timers)
    for _ in range(3):
        summed.add("POST", "/webhooks/zoom", 200, 20, 0.002)
    summed.add("POST", "/webhooks/teams", 202, 0, 0.001)
    assert lines(caplog) == [] and len(timers.due) == 1 and timers.due[0][0] == 1.0  # one timer for them all
    timers.due[0][1]()
    assert lines(caplog) == [
        '3 x "POST /webhooks/zoom" 200 60 0.006s (webhooks answered 200, summed over at most 1s)',
        '1 x "POST /webhooks/teams" 202 0 0.001s (webhooks answered 202, summed over at most 1s)',
    ]
    summed.add("POST", "/webhooks/zoom", 200, 20, 0.002)  # the next period's: a new timer, a new sum
    assert len(timers.due) == 2
    summed.write()  # as at shutdown: said at once, and its timer cancelled
    assert lines(caplog)[-1].startswith('1 x "POST /webhooks/zoom" 200 20 ') and timers.due[1][2].cancelled()
    summed.write()
    assert len(lines(caplog)) == 3  # nothing more to say


async def test_a_summed_line_is_written_in_time_and_carries_no_requests_id():
    seen: list[str | None] = []
    written = asyncio.Event()

    class Seen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(REQUEST_ID.get())
            written.set()

    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    handler = Seen()
    logger.addHandler(handler)
    try:
        summed = WebhookLines(logger, 0.01)
        REQUEST_ID.set("0123456789abcdef")  # as the request that adds the first answer has
        summed.add("POST", "/webhooks/zoom", 200, 20, 0.002)
        await asyncio.wait_for(written.wait(), 5)
    finally:
        logger.removeHandler(handler)
    assert seen == [None]


def started_webhook() -> bytes:
    meeting = ScriptedMeeting(datetime.now(timezone.utc).replace(microsecond=0), "85746065432", "lines==", THERAPIST_A_HOST)
    meeting.started(0)
    return json.dumps(meeting.steps[0][1]).encode()


async def test_a_served_webhook_is_summed_and_a_refused_one_or_a_page_keeps_its_own_line(settings, caplog):
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    runner = await start(settings, 0)
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        body = started_webhook()
        async with aiohttp.ClientSession() as http:
            for headers in (signed_headers(body), signed_headers(body), {**signed_headers(body), "x-zm-signature": "v0=0"}):
                async with http.post(f"{url}/webhooks/zoom", data=body, headers=headers) as answer:
                    assert answer.status in (200, 401)
            async with http.get(f"{url}/healthz") as answer:
                assert answer.status == 200
    finally:
        await runner.cleanup()
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    own = [line for line in access if " x " not in line]
    assert len(own) == 2 and own[0].startswith('127.0.0.1 "POST /webhooks/zoom" 401 ') and own[1].startswith('127.0.0.1 "GET /healthz" 200 ')
    # The stored one and its duplicate ("ignored"): summed, and said at shutdown at the latest.
    assert [re.sub(r"200 \d+ \d+\.\d+s", "200 N Ts", line) for line in access if " x " in line] == [
        '2 x "POST /webhooks/zoom" 200 N Ts (webhooks answered 200, summed over at most 1s)',
    ]
