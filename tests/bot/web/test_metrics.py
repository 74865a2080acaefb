"""GET /metrics: behind its token when one is set, counting what happens, with labels from closed sets only."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import func, select

from bot.core.settings import CHANNELS
from bot.metrics import Metrics
from bot.storage import schema
from bot.tracking.frames import DEFAULT_QUEUE_FRAMES, Frame
from bot.web import keys
from bot.web.app import create_app
from bot.web.metrics import outcome
from tests.conftest import SECRET, TOKEN_A, signed_headers
from tests.fakes.metrics import samples, scraped
from tests.fakes.sensitive import leaks

METRICS_TOKEN = "metrics-token-for-the-tests-0123456789"
# Every label's values: none is a name, a client code or an id.
CLOSED = {
    "platform": {"zoom", "teams"},
    "outcome": {outcome(status) for status in (200, 202, 400, 401, 403, 404, 413, 500, 503)},
    "channel": set(CHANNELS),
    "state": {"sent", "failed", "coalesced", "retried"},
    "stage": {"queue", "analysis"},
}


async def test_the_metrics_want_their_token_when_one_is_set(aiohttp_client, make_settings):
    client = await aiohttp_client(create_app(make_settings(metrics={"token": METRICS_TOKEN})))
    for header in ("", f"Bearer {METRICS_TOKEN}x", METRICS_TOKEN, f"Bearer {TOKEN_A}", f"Basic {METRICS_TOKEN}"):
        answer = await client.get("/metrics", headers={"Authorization": header} if header else {})
        assert answer.status == 401 and answer.headers["WWW-Authenticate"] == "Bearer", header
        assert (await answer.json())["reason"] == "a valid bearer token is required: [metrics] token"
    answer = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/plain; version=")
    assert ("companion_oldest_pending_delivery_seconds", ()) in samples(await answer.text())


async def test_without_a_token_the_metrics_are_open(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    assert ("companion_events_stored_total", ()) in await scraped(client)


async def count(client, table, *where) -> int:
    async with client.app[keys.STORE].engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()


async def test_a_whole_meeting_is_counted_and_no_label_carries_a_name_a_code_or_an_id(aiohttp_client, alert_settings, clock, fake_zoom, meeting_deliveries):
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["dashboard", "zoom_chat"]), clock))
    clock.now = datetime(2026, 11, 20, 11, 0, tzinfo=timezone.utc)  # just after the fixture's meeting: its alerts are raised
    bodies = [json.dumps(body).encode() for body in meeting_deliveries]
    for raw in bodies + bodies:  # all of it delivered twice: the second time stores nothing
        assert (await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))).status == 200
    assert (await client.post("/webhooks/zoom", data=bodies[0], headers=signed_headers(bodies[0], SECRET + "-wrong"))).status == 401
    assert (await client.post("/webhooks/zoom", data=b"[]", headers=signed_headers(b"[]"))).status == 400
    await client.app[keys.EVALUATION].drain()
    await client.app[keys.DELIVERIES].drain()

    metrics = await scraped(client)
    zoom = (("platform", "zoom"),)
    assert metrics[("companion_webhooks_total", (("outcome", "accepted"), *zoom))] == 2 * len(bodies)
    assert metrics[("companion_webhooks_total", (("outcome", "unauthorized"), *zoom))] == 1
    assert metrics[("companion_webhooks_total", (("outcome", "refused"), *zoom))] == 1
    assert metrics[("companion_webhook_ack_seconds_count", zoom)] == 2 * len(bodies) + 2
    assert metrics[("companion_events_stored_total", ())] == await count(client, schema.events) > 0
    kinds = {labels[0][1]: value for (name, labels), value in metrics.items() if name == "companion_notices_total"}
    async with client.app[keys.STORE].engine.connect() as conn:
        raised = dict((await conn.execute(select(schema.notices.c.kind, func.count()).group_by(schema.notices.c.kind))).all())
    assert kinds == raised and "third_party_joined" in kinds
    sent = await count(client, schema.deliveries, schema.deliveries.c.channel == "zoom_chat", schema.deliveries.c.state == "sent")
    assert sent > 0 and len(fake_zoom.bodies("message")) == sent
    assert metrics[("companion_deliveries_total", (("channel", "zoom_chat"), ("state", "sent")))] == sent
    assert metrics[("companion_delivery_seconds_count", (("channel", "zoom_chat"),))] == sent

    labelled = {(label, value) for (name, labels), _ in metrics.items() for label, value in labels if label not in ("le", "kind")}
    assert all(value in CLOSED[label] for label, value in labelled), labelled
    assert set(kinds) <= set(raised)  # notice kinds are the service's own words
    s = schema.sessions.c
    async with client.app[keys.STORE].engine.connect() as conn:
        ids = {value for row in (await conn.execute(select(s.id, s.occurrence_id, s.meeting_id, s.host_id, s.therapist_id))).all() for value in row}
    text = await (await client.get("/metrics")).text()
    assert not [value for value in ids | {"C-17", "t1"} if f'"{value}"' in text] and leaks(text) == []


async def test_frames_a_full_queue_dropped_are_counted_when_scraped(aiohttp_client, make_settings):
    # The statistics lane holds a frame for each of rtms_max_streams streams (at least DEFAULT_QUEUE_FRAMES).
    client = await aiohttp_client(create_app(make_settings(zoom={"rtms_max_streams": 10})))
    frame = Frame("s-frames", "16779264", datetime(2025, 3, 4, 15, 0, tzinfo=timezone.utc), b"\xff\xd8")
    for _ in range(DEFAULT_QUEUE_FRAMES + 5):  # put at once, never waiting: the sinks' tasks take none meanwhile
        client.app[keys.FRAMES].put(frame)
    assert (await scraped(client))[("companion_frames_dropped_total", (("stage", "queue"),))] == 5


def test_a_webhooks_counter_and_timer_are_the_labels_own_children_looked_up_once():
    metrics = Metrics()
    counted, timed = metrics.webhook_answered("zoom", "accepted")
    assert metrics.webhook_answered("zoom", "accepted") == (counted, timed)
    assert counted is metrics.webhooks.labels("zoom", "accepted") and timed is metrics.webhook_seconds.labels("zoom")
    refused, timed_too = metrics.webhook_answered("zoom", "refused")
    assert refused is not counted and timed_too is timed
