"""The outbox end to end: real channel clients over HTTP to fake Zoom and Graph, faults, restarts, privacy."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from bot.core.appointments import appointment_id_for
from bot.core.due_work import DueWork
from bot.core.message import compose
from bot.core.reminders import CHECKLIST_REMINDER
from bot.core.timefmt import from_iso, to_iso
from bot.delivery import messages
from bot.delivery.workers import LEASE
from bot.storage.outbox import Outbox
from bot.storage.store import create_engine
from bot.web import keys
from bot.web.app import create_app
from integrations.teams.client import GraphToken
from tests.conftest import TOKEN_A
from tests.fakes.fixtures import (
    PUBLIC_URL,
    T1_ENTRA,
    T1_JID,
    T2_JID,
    delivery_rows,
    raise_notice,
    settle,
)


def states(rows, channel):
    return [r.state for r in rows if r.channel == channel]


async def test_each_enabled_channel_gets_the_notice_once_with_a_link_and_the_api_shows_it(aiohttp_client, alert_settings, clock, fake_zoom, fake_graph):
    client = await aiohttp_client(create_app(alert_settings(), clock))
    app = client.app
    notice_id = await raise_notice(app, "t1", "s-one", "recording_started", message="Someone started recording the meeting.")
    await raise_notice(app, "t2", "s-two", "recording_started", message="Someone started recording the meeting.")
    await app[keys.DELIVERIES].drain()

    (zoom_t1, zoom_t2) = sorted(fake_zoom.bodies("message"), key=lambda b: b["to_jid"] != T1_JID)
    assert zoom_t1 == {
        "robot_jid": fake_zoom.settings()["robot_jid"],
        "to_jid": T1_JID,
        "account_id": fake_zoom.settings()["account_id"],
        "content": {
            "head": {"text": "Recording started"},
            "body": [{"type": "message", "text": f"Someone started recording the meeting.\n{PUBLIC_URL}/sessions/s-one"}],
        },
    }
    assert zoom_t2["to_jid"] == T2_JID
    assert fake_zoom.hits["user"] == 1  # t1's JID looked up once; t2's is configured
    (activity,) = fake_graph.received[-1:]
    assert activity.path == f"/v1.0/users/{T1_ENTRA}/teamwork/sendActivityNotification"
    assert activity.body == {
        "topic": {"source": "text", "value": "Recording started", "webUrl": f"{PUBLIC_URL}/sessions/s-one"},
        "activityType": "systemDefault",
        "previewText": {"content": "Someone started recording the meeting."},
        "templateParameters": [{"name": "systemDefaultText", "value": "Someone started recording the meeting."}],
    }
    listed = await (await client.get("/api/notices", headers={"Authorization": f"Bearer {TOKEN_A}"})).json()
    assert [(n["id"], n["delivery"]) for n in listed] == [
        (notice_id, {"dashboard": "pending", "teams_activity": "sent", "zoom_chat": "sent"})
    ]


async def test_500_three_times_then_200_sends_exactly_once(aiohttp_client, alert_settings, clock, fake_zoom):
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["zoom_chat"]), clock))
    fake_zoom.fail("message", times=3, status=500)
    await raise_notice(client.app, "t1", "s-one", "third_party_joined")
    await settle(client.app, clock, lambda: bool(fake_zoom.bodies("message")))
    await client.app[keys.DELIVERIES].drain()
    assert fake_zoom.hits["message"] == 4 and len(fake_zoom.bodies("message")) == 1
    (row,) = await delivery_rows(client.app)
    assert (row.state, row.attempts, row.last_error) == ("sent", 4, None)


async def test_429_retry_after_is_waited_for_exactly(aiohttp_client, alert_settings, clock, fake_zoom, fake_graph):
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["teams_activity"]), clock))
    fake_graph.fail("activity", status=429, retry_after="30")
    raised_at = clock()
    await raise_notice(client.app, "t1", "s-one", "client_screen_share")
    await client.app[keys.DELIVERIES].drain()
    (row,) = await delivery_rows(client.app)
    assert (row.state, row.last_error) == ("pending", "http_429")
    assert (from_iso(row.next_attempt_at) - raised_at).total_seconds() == 30
    clock.advance(29.9)
    client.app[keys.DELIVERIES].wake()
    await client.app[keys.DELIVERIES].drain()
    assert fake_graph.hits["activity"] == 1
    clock.advance(0.1)
    await client.app[keys.DELIVERIES].drain()
    assert fake_graph.hits["activity"] == 2 and len(fake_graph.bodies("activity")) == 1


async def test_a_channel_that_is_down_all_meeting_does_not_hold_up_the_others(aiohttp_client, alert_settings, clock, fake_zoom, fake_graph):
    client = await aiohttp_client(create_app(alert_settings(), clock))
    fake_zoom.down("message", delay=60, drop=True)  # a black hole: takes the request and never answers
    for n in range(20):
        await raise_notice(client.app, "t1", f"s-{n % 5}", "third_party_joined", n, "Another person joined the meeting.")
    for _ in range(500):  # until each session's first Zoom message hangs there (bounded)
        if fake_zoom.hits["message"] == 5:
            break
        await asyncio.sleep(0.01)
    await client.app[keys.DELIVERIES].workers["teams_activity"].drain()
    rows = await delivery_rows(client.app)
    # Teams took all 20 while each session's first Zoom message was still hanging and the rest queued behind it.
    assert len(fake_graph.bodies("activity")) == 20 and set(states(rows, "teams_activity")) == {"sent"}
    assert fake_zoom.bodies("message") == []
    assert sorted(states(rows, "zoom_chat")) == ["pending"] * 15 + ["sending"] * 5
    await fake_zoom.stop()  # hangs up on the waiting requests, so the app can stop


def texts(fake_zoom) -> list[str]:
    return [b["content"]["body"][0]["text"].split("\n")[0] for b in fake_zoom.bodies("message")]


async def test_a_restart_with_pending_deliveries_sends_each_exactly_once_after_it(aiohttp_client, alert_settings, clock, fake_zoom, fake_graph):
    settings = alert_settings()
    fake_zoom.down("message")
    fake_graph.down("activity")
    first = await aiohttp_client(create_app(settings, clock))
    for n in range(6):
        await raise_notice(first.app, "t1", f"s-{n % 2}", "third_party_joined", n, f"Another person joined ({n}).")
    await first.app[keys.DELIVERIES].drain()
    await first.close()
    clock.advance(120)  # past every backoff
    # A worker that died mid-send leaves its claim behind; it lapses after the lease.
    engine = create_engine(settings.storage.url)
    (abandoned,) = await Outbox(engine).claim_due("teams_activity", clock(), 1, LEASE)
    await engine.dispose()
    fake_zoom.up("message")
    fake_graph.up("activity")
    clock.advance(LEASE.total_seconds() + 1)

    second = await aiohttp_client(create_app(settings, clock))
    await second.app[keys.DELIVERIES].drain()
    for session in ("0", "1"):  # each once, and per session in the order raised
        expected = [f"Another person joined ({n})." for n in range(6) if str(n % 2) == session]
        assert [t for t in texts(fake_zoom) if int(t[-3]) % 2 == int(session)] == expected
        previews = [b["previewText"]["content"] for b in fake_graph.bodies("activity")]
        assert [p for p in previews if int(p[-3]) % 2 == int(session)] == expected
    assert abandoned.notice.id in {r.notice_id for r in await delivery_rows(second.app) if r.state == "sent"}
    assert {r.state for r in await delivery_rows(second.app) if r.channel != "dashboard"} == {"sent"}


async def test_two_instances_sharing_the_database_never_send_a_notice_twice(aiohttp_client, alert_settings, storage_url, clock, fake_zoom):
    settings = alert_settings(storage_url, t1_channels=["zoom_chat"])
    one = await aiohttp_client(create_app(settings, clock))
    two = await aiohttp_client(create_app(settings, clock))
    fake_zoom.down("message", delay=0.02)  # slow answers widen the race between the two
    for n in range(40):
        await raise_notice(one.app, "t1", f"s-{n % 8}", "third_party_joined", n, f"Another person joined ({n}).")
    two.app[keys.DELIVERIES].wake()
    await asyncio.gather(one.app[keys.DELIVERIES].drain(), two.app[keys.DELIVERIES].drain())
    await asyncio.gather(one.app[keys.DELIVERIES].drain(), two.app[keys.DELIVERIES].drain())
    assert sorted(texts(fake_zoom)) == sorted(f"Another person joined ({n})." for n in range(40))


async def test_a_later_notice_waits_for_an_earlier_one_of_the_same_session_but_not_of_another(aiohttp_client, alert_settings, clock, fake_zoom):
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["zoom_chat"]), clock))
    fake_zoom.fail("message", times=2, status=503, only_if=b"A first")
    await raise_notice(client.app, "t1", "s-a", "third_party_joined", 1, "A first.")
    await raise_notice(client.app, "t1", "s-a", "recording_started", 2, "A second.")
    await raise_notice(client.app, "t1", "s-b", "recording_started", 3, "B first.")
    await client.app[keys.DELIVERIES].drain()
    assert texts(fake_zoom) == ["B first."]
    await settle(client.app, clock, lambda: len(texts(fake_zoom)) == 3)
    assert texts(fake_zoom) == ["B first.", "A first.", "A second."]


async def test_a_burst_of_video_off_alerts_within_a_minute_is_one_message(aiohttp_client, alert_settings, clock, fake_zoom):
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["zoom_chat"]), clock))
    deliveries = client.app[keys.DELIVERIES]
    for n, gap in enumerate([0, 20, 20, 100]):  # three within a minute, then one two minutes on
        clock.advance(gap)
        await raise_notice(client.app, "t1", "s-a", "client_video_off", n, f"The client's video has been off for {n} min.")
        await deliveries.drain()
    assert texts(fake_zoom) == ["The client's video has been off for 0 min.", "The client's video has been off for 3 min."]
    # A backlog (the channel was down) goes out as its newest alert only.
    fake_zoom.down("message")
    for n, gap in zip(range(4, 7), [120, 15, 15], strict=True):
        clock.advance(gap)
        await raise_notice(client.app, "t1", "s-a", "client_video_off", n, f"The client's video has been off for {n} min.")
    await deliveries.drain()
    fake_zoom.up("message")
    await settle(client.app, clock, lambda: len(texts(fake_zoom)) == 3)
    await deliveries.drain()
    assert texts(fake_zoom)[2:] == ["The client's video has been off for 6 min."]
    assert [r.state for r in await delivery_rows(client.app)] == ["sent", "coalesced", "coalesced", "sent", "coalesced", "coalesced", "sent"]


async def test_a_delivery_that_keeps_failing_is_marked_failed_after_the_bound(aiohttp_client, alert_settings, clock, fake_zoom, fake_graph):
    client = await aiohttp_client(create_app(alert_settings(), clock))
    fake_graph.down("activity", status=502)
    fake_zoom.fail("message", status=400)  # not worth retrying
    await raise_notice(client.app, "t1", "s-a", "recording_started")
    rows = []

    async def finished() -> bool:
        rows[:] = await delivery_rows(client.app)
        return all(r.state not in ("pending", "sending") for r in rows if r.channel != "dashboard")

    for _ in range(100):
        await client.app[keys.DELIVERIES].drain()
        if await finished():
            break
        clock.advance(60)
        client.app[keys.DELIVERIES].wake()
    by_channel = {r.channel: (r.state, r.attempts, r.last_error) for r in rows}
    assert by_channel["zoom_chat"] == ("failed", 1, "http_400")
    assert by_channel["teams_activity"] == ("failed", 8, "http_502")
    assert fake_graph.hits["activity"] == 8


async def test_no_message_names_the_client_or_gives_their_email(aiohttp_client, alert_settings, fake_zoom, fake_graph, hold_meeting):
    profile = {
        "code": "C-17", "therapist": "t1", "zoom_meeting_ids": ["85746065432"],
        "display_names": ["Sam Client"], "emails": ["sam.client@example.net"],
    }
    client = await aiohttp_client(create_app(alert_settings(clients=[profile])))
    session = await hold_meeting(client)
    # A notice worded carelessly upstream (say, a reminder) is cleaned on the way out.
    await raise_notice(client.app, "t1", session.id, "start_reminder", 0, "Sam Client (SAM.CLIENT@example.net) is in the meeting.")
    await client.app[keys.DELIVERIES].drain()

    sent = [json.dumps(b) for b in fake_zoom.bodies("message") + fake_graph.bodies("activity")]
    raised = await client.app[keys.STORE].notices("t1")
    assert {"third_party_joined", "recording_started", "client_screen_share", "start_reminder"} <= {n.kind for n in raised}
    assert len(sent) == 2 * len(raised)  # every notice, on both outbound channels
    for body in sent:
        assert "sam" not in body.lower() and "example.net" not in body
        assert "C-17" in body and f"{PUBLIC_URL}/sessions/{session.id}" in body
    assert any("C-17 (C-17) is in the meeting." in body and f"/sessions/{session.id}/checklist" in body for body in sent)


async def test_a_checklist_reminder_fired_from_due_work_reaches_the_channels_too(aiohttp_client, alert_settings, clock, fake_zoom):
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["dashboard", "zoom_chat"]), clock))
    keeper = client.app[keys.TIMEKEEPER]
    start = clock() + timedelta(minutes=10)
    data = {"platform": "zoom", "meeting_id": "85746065432", "start": to_iso(start), "minutes": 50}
    later = datetime.now(timezone.utc) + timedelta(hours=1)  # the real scheduler leaves it alone: the test fires it
    await keeper.plan(DueWork("reminder:85746065432:1", CHECKLIST_REMINDER, later, "t1", None, data))
    (row,) = await keeper.meeting_reminders("zoom", "85746065432")
    await keeper.fire(row.id)
    await client.app[keys.DELIVERIES].drain()
    (body,) = fake_zoom.bodies("message")
    assert body["content"]["head"]["text"] == "Checklist before your session"
    checklist = f"{PUBLIC_URL}/appointments/{appointment_id_for('reminder:85746065432:1')}/checklist"
    assert body["content"]["body"][0]["text"] == f"Session with C-17 at 15:10 GMT. Pre-call checklist…\n{checklist}"
    assert {r.channel: r.state for r in await delivery_rows(client.app)} == {"dashboard": "pending", "zoom_chat": "sent"}


async def test_sends_finishing_one_by_one_look_for_more_only_when_a_notice_handed_over_waits(monkeypatch, aiohttp_client, alert_settings, clock, fake_zoom):
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["zoom_chat"]), clock))
    await client.app[keys.DELIVERIES].drain()
    claims: list[int] = []
    claim_due = Outbox.claim_due

    async def counted(self, *args, **kwargs):
        claims.append(len(found := await claim_due(self, *args, **kwargs)))
        return found

    monkeypatch.setattr(Outbox, "claim_due", counted)
    for n in range(12):  # the answers come back one at a time, each send recorded on its own
        fake_zoom.fail("message", delay=0.05 * n, only_if=f"Recording {n}.".encode())
    await asyncio.gather(*(raise_notice(client.app, "t1", f"s-{n}", "recording_started", n, f"Recording {n}.") for n in range(12)))
    await client.app[keys.DELIVERIES].drain()
    assert sorted(texts(fake_zoom)) == sorted(f"Recording {n}." for n in range(12)) and sum(claims) == 12
    assert claims.count(0) <= 2  # one when the last send is recorded, one for the drain: none per send finished


async def test_a_burst_across_a_hundred_sessions_is_claimed_at_once(monkeypatch, aiohttp_client, alert_settings, clock, fake_zoom, fake_graph):
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["zoom_chat", "teams_activity"]), clock))
    await client.app[keys.DELIVERIES].drain()
    claims: dict[str, list[int]] = {"zoom_chat": [], "teams_activity": []}
    claim_due, acquire, tokens = Outbox.claim_due, GraphToken._acquire, []

    async def counted(self, channel, *args, **kwargs):
        claims[channel].append(len(found := await claim_due(self, channel, *args, **kwargs)))
        return found

    def acquired(self):
        tokens.append(self)
        return acquire(self)

    monkeypatch.setattr(Outbox, "claim_due", counted)
    monkeypatch.setattr(GraphToken, "_acquire", acquired)
    await asyncio.gather(*(raise_notice(client.app, "t1", f"s-{n}", "recording_started", n, f"Recording {n}.") for n in range(100)))
    await client.app[keys.DELIVERIES].drain()
    assert len(texts(fake_zoom)) == len(fake_graph.bodies("activity")) == 100
    assert {channel: [n for n in sizes if n] for channel, sizes in claims.items()} == {"zoom_chat": [100], "teams_activity": [100]}
    # The therapist's JID and the Graph token are each asked for once, not by every send of the burst.
    assert fake_zoom.hits["user"] == 1 and len(tokens) == 1


async def test_a_notice_is_worded_once_for_all_its_channels(monkeypatch, aiohttp_client, alert_settings, clock, fake_zoom, fake_graph):
    worded = []

    def counted(*args, **kwargs):
        worded.append(args[0])
        return compose(*args, **kwargs)

    monkeypatch.setattr(messages, "compose", counted)
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["zoom_chat", "teams_activity"]), clock))
    notice_id = await raise_notice(client.app, "t1", "s-a", "recording_started", 1, "Someone started recording the meeting.")
    await client.app[keys.DELIVERIES].drain()
    assert len(fake_zoom.bodies("message")) == len(fake_graph.bodies("activity")) == 1
    assert worded == [notice_id]
