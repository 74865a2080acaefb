"""Two instances' workers on one PostgreSQL database: each notice sent once per channel, claims and retries kept."""
from __future__ import annotations

import asyncio
from collections import Counter

from bot.core.timefmt import from_iso
from bot.delivery.workers import LEASE
from bot.storage.outbox import Outbox
from bot.web import keys
from bot.web.app import create_app
from tests.fakes.fixtures import delivery_rows, raise_notice

from .test_workers import texts


async def drained(*clients) -> None:
    """Let both instances' workers send whatever is due now (twice: one may free the other's next)."""
    for _ in range(2):
        for client in clients:
            client.app[keys.DELIVERIES].wake()
        await asyncio.gather(*(client.app[keys.DELIVERIES].drain() for client in clients))


async def test_fifty_notices_raised_on_two_instances_are_sent_once_per_channel_each_retry_on_its_time(
    aiohttp_client, alert_settings, postgres_url, clock, fake_zoom, fake_graph
):
    settings = alert_settings(postgres_url)
    one, two = await aiohttp_client(create_app(settings, clock)), await aiohttp_client(create_app(settings, clock))
    fake_zoom.fail("message", times=10, status=503)
    fake_graph.fail("activity", times=5, status=503)
    wanted = [f"Another person joined ({n})." for n in range(50)]
    await asyncio.gather(*(raise_notice((one, two)[n % 2].app, "t1", f"s-{n % 5}", "third_party_joined", n, text) for n, text in enumerate(wanted)))
    await drained(one, two)
    hits = fake_zoom.hits["message"], fake_graph.hits["activity"]
    await drained(one, two)  # the clock stands still: no retry is due yet, on either instance
    assert (fake_zoom.hits["message"], fake_graph.hits["activity"]) == hits
    waiting = [r for r in await delivery_rows(one.app) if r.state == "pending" and r.attempts]  # tried, to be retried
    assert waiting and all(from_iso(r.next_attempt_at) > clock() for r in waiting)
    for _ in range(60):
        clock.advance(5)
        await drained(one, two)
        if len(texts(fake_zoom)) == 50 and len(fake_graph.bodies("activity")) == 50:
            break
    assert Counter(texts(fake_zoom)) == Counter(wanted)
    assert Counter(b["previewText"]["content"] for b in fake_graph.bodies("activity")) == Counter(wanted)
    assert {r.state for r in await delivery_rows(two.app) if r.channel != "dashboard"} == {"sent"}


async def test_a_claim_held_by_a_dead_worker_is_taken_by_neither_instance_until_its_lease_lapses(
    aiohttp_client, alert_settings, postgres_url, clock, fake_zoom
):
    settings = alert_settings(postgres_url, t1_channels=["zoom_chat"])
    one, two = await aiohttp_client(create_app(settings, clock)), await aiohttp_client(create_app(settings, clock))
    fake_zoom.down("message", status=503)
    await raise_notice(one.app, "t1", "s-a", "recording_started", 1, "Someone started recording the meeting.")
    await drained(one, two)  # tried once, waiting for its retry
    fake_zoom.up("message")
    clock.advance(60)
    (abandoned,) = await Outbox(one.app[keys.STORE].engine).claim_due("zoom_chat", clock(), 1, LEASE)  # a third worker that then dies
    clock.advance(LEASE.total_seconds() - 1)
    await drained(one, two)
    assert texts(fake_zoom) == []
    clock.advance(2)
    await drained(one, two)
    assert texts(fake_zoom) == ["Someone started recording the meeting."]
    assert not await Outbox(one.app[keys.STORE].engine).finish(abandoned, "sent", clock())  # its claim is gone
