"""The calling bot on the real server: real msal and GraphClient against fake Entra and Graph on loopback, callbacks
signed by a fake Bot Framework, keep-alive and hang-up on a controlled clock (integrations/teams/calling_bot.py)."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config.settings_file import parse_settings
from bot.core import events as ev
from bot.core.join_urls import join_url_key
from bot.core.timefmt import to_iso
from bot.storage import schema
from bot.storage.subscriptions import Subscription
from bot.web import keys
from bot.web.app import create_app
from integrations.teams import keys as teams_keys
from integrations.teams.const import CALL_JOIN, CALL_KEEP_ALIVE
from tests.conftest import TOKEN_A, free_port, settings_dict
from tests.fakes.botframework import FakeBotFramework
from tests.fakes.clock import ManualClock
from tests.fakes.entra import CLIENT_ID, TENANT
from tests.fakes.graph_calls import FakeGraphCalls, call_participant, call_state, roster
from tests.fakes.graph_notifications import (
    call_event,
    notification,
    participant,
    service_key,
    service_key_file,
)

T1_ENTRA = "3f1c2d9e-0000-4a6b-9c1d-7e2f5a6b8c01"
CLIENT_ENTRA = "c11e47aa-5b2f-4f0e-8d3c-1a2b3c4d5e6f"
THREAD = "19:meeting_Q2FtZXJhQm90@thread.v2"
CONTEXT = f"%7b%22Tid%22%3a%22{TENANT}%22%2c%22Oid%22%3a%22{T1_ENTRA}%22%7d"
JOIN_URL = f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_Q2FtZXJhQm90%40thread.v2/0?context={CONTEXT}"
SUB_ID, STATE = "sub-calling-bot-1", "client-state-calling-bot-77"


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


class Rig:
    """The service with a camera-tracking therapist, the fakes, and a clock that moves only when the test moves it."""

    def __init__(self, client: Any, graph: FakeGraphCalls, clock: ManualClock) -> None:
        self.client, self.app, self.graph, self.clock = client, client.app, graph, clock
        self.t0 = clock.now

    def at(self, seconds: float) -> datetime:
        return self.t0 + timedelta(seconds=seconds)

    async def deliver(self, *payloads: dict, expect: int = 202) -> None:
        """Post meeting call events as Graph's encrypted change notifications."""
        body = {"value": [notification(SUB_ID, STATE, JOIN_URL, p, service_key()) for p in payloads], "validationTokens": [self.graph.mint()]}
        response = await self.client.post("/webhooks/teams", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        assert response.status == expect, await response.text()
        await self.settle()

    async def settle(self) -> None:
        await self.app[teams_keys.CALLING_BOT].settle()
        await self.run_due()
        await self.app[teams_keys.CALLING_BOT].settle()
        await self.app[keys.EVALUATION].drain()

    async def run_due(self) -> None:
        """Carry out, once each, the due rows whose time has come on the test's clock, as the scheduler would wake them."""
        keeper, fired = self.app[keys.TIMEKEEPER], set()
        for _ in range(5):  # work may plan more work, due at once
            due = [r for r in await keeper.due.pending() if r.work.due_at <= self.clock() and r.id not in fired]
            if not due:
                return
            for row in due:
                fired.add(row.id)
                await self.app[keys.SCHEDULER].run(row.id)  # a failure is logged; its row stays pending

    async def start_call(self) -> str:
        """The call starts, the therapist and the client join; the bot joins and Graph establishes its call."""
        await self.deliver(
            call_event(JOIN_URL, "callStarted", stamp(self.at(0)), "n-start"),
            call_event(JOIN_URL, "rosterUpdated", stamp(self.at(1)), "n-roster", [participant("p-ther", T1_ENTRA, "Therapist A"), participant("p-cli", CLIENT_ENTRA, "Client Person")]),
        )
        (call_id,) = self.graph.call_ids()
        return call_id

    async def notify(self, call_id: str, *notifications: dict, **kwargs: Any) -> tuple[int, Any]:
        answer = await self.graph.notify(call_id, *notifications, **kwargs)
        await self.settle()
        return answer

    async def session_id(self) -> str:
        (row,) = await self.app[keys.STORE].sessions("t1", "teams")
        return row.id

    async def cameras(self) -> list[tuple[str, bool, datetime]]:
        store = self.app[keys.STORE]
        (row,) = await store.sessions("t1", "teams")
        events = await store.session_events(row.meeting)
        return [(e.participant.user_id, e.on, e.at) for e in events if isinstance(e, ev.VideoStateChanged)]

    async def summary(self) -> dict:
        response = await self.client.get(f"/api/sessions/{await self.session_id()}/summary", headers={"Authorization": f"Bearer {TOKEN_A}"})
        assert response.status == 200
        return await response.json()

    async def counts(self) -> dict[str, int]:
        async with self.app[keys.STORE].engine.connect() as conn:
            return {t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one() for t in (schema.events, schema.notices, schema.bot_calls)}

    async def bot_call(self) -> Any:
        return await self.app[teams_keys.CALLING_BOT].calls.by_session(await self.session_id())


def settings_for(storage_url: str, graph: FakeGraphCalls, port: int, key_file: str, tracking: bool = True, join_url: str = JOIN_URL) -> Any:
    teams = {**graph.settings(), "bot_openid_url": graph.bot_framework.openid_url, "encryption_key_file": key_file}
    therapists = [{"id": "t1", "name": "Therapist A", "api_token": TOKEN_A, "teams_user_id": T1_ENTRA, "timezone": "Europe/London", "teams_camera_tracking": tracking}]
    clients = [{"code": "C-17", "therapist": "t1", "teams_join_urls": [join_url], "entra_ids": [CLIENT_ENTRA]}]
    raw = settings_dict(
        storage_url, teams=teams, server={"public_url": f"http://127.0.0.1:{port}"}, reminders={"sync_interval_minutes": 0},
        therapists=therapists, clients=clients, alerts={"video_off_alert_seconds": 60, "video_off_repeat_seconds": 3600},
    )
    return parse_settings(raw, {})


async def start(aiohttp_client: Any, settings: Any, clock: ManualClock, port: int, join_url: str = JOIN_URL) -> Any:
    app = create_app(settings, clock)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    resource = f"communications/onlineMeetings(joinWebUrl='{join_url}')/meetingCallEvents"
    now = clock()
    subscription = Subscription(SUB_ID, "teams", "t1", join_url_key(join_url), resource, now + timedelta(days=2), join_url, now + timedelta(hours=1))
    await app[teams_keys.SUBSCRIPTIONS].put(subscription, STATE, now)
    return client


@pytest.fixture
def clock() -> ManualClock:
    # A day ahead of the real time: the real scheduler wakes none of the due work during the test; the test does.
    return ManualClock(datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1))


@pytest.fixture
async def rig(aiohttp_client, storage_url, graph_calls, clock, tmp_path) -> Rig:
    port = free_port()
    settings = settings_for(storage_url, graph_calls, port, service_key_file(tmp_path))
    return Rig(await start(aiohttp_client, settings, clock, port), graph_calls, clock)


def everyone(client_video: str = "sendReceive") -> list[dict]:
    """The call's participants as the calls API lists them: its own ids, the bot among them."""
    return [
        call_participant("c-ther", T1_ENTRA, "Therapist A", video="sendReceive"),
        call_participant("c-cli", CLIENT_ENTRA, "Client Person", video=client_video),
        call_participant("c-bot", app_id=CLIENT_ID, video="sendReceive"),
    ]


async def test_the_bot_joins_with_the_meeting_organiser_thread_and_tenant_from_the_join_url(rig):
    call_id = await rig.start_call()
    (body,) = rig.graph.bodies("join")
    assert body["@odata.type"] == "#microsoft.graph.call"
    assert body["callbackUri"] == f"{rig.client.make_url('/webhooks/teams/calls')}"
    assert body["tenantId"] == TENANT and body["requestedModalities"] == ["audio"]
    assert body["mediaConfig"] == {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"}
    assert body["chatInfo"] == {"@odata.type": "#microsoft.graph.chatInfo", "threadId": THREAD, "messageId": "0"}
    assert body["meetingInfo"]["@odata.type"] == "#microsoft.graph.organizerMeetingInfo"
    assert body["meetingInfo"]["organizer"]["user"]["id"] == T1_ENTRA and body["meetingInfo"]["organizer"]["user"]["tenantId"] == TENANT
    received = next(r for r in rig.graph.received if r.route == "join")
    assert received.headers["Authorization"].startswith("Bearer graph-token-")  # a real msal token from the fake Entra
    call = await rig.bot_call()
    assert (call.call_id, call.state, call.therapist_id) == (call_id, "establishing", "t1")


async def test_one_bot_per_call_whatever_repeats_the_start(rig):
    await rig.start_call()
    await rig.deliver(call_event(JOIN_URL, "callStarted", stamp(rig.at(0)), "n-start-again"))  # Graph delivers it again
    session_id = await rig.session_id()
    keeper = rig.app[keys.TIMEKEEPER]
    # Another instance's (or a late) join of the same call finds the bot's row taken in the database.
    from bot.core.due_work import DueWork

    await keeper.plan(DueWork(f"{CALL_JOIN}:{session_id}:other", CALL_JOIN, rig.clock(), "t1", session_id))
    await rig.settle()
    assert len(rig.graph.bodies("join")) == 1
    assert (await rig.counts())["bot_calls"] == 1


async def test_cameras_from_full_and_delta_rosters_become_the_clients_video_off_intervals(rig):
    call_id = await rig.start_call()
    rig.graph.calls[call_id]["participants"] = everyone()
    rig.clock.now = rig.at(10)
    assert (await rig.notify(call_id, call_state(call_id, "established")))[0] == 202
    assert len(rig.graph.bodies("participants")) == 1  # everyone in the call before the bot, read once
    rig.clock.now = rig.at(60)
    delta = [call_participant("c-cli", CLIENT_ENTRA, "Client Person", video="inactive")]
    assert (await rig.notify(call_id, roster(call_id, delta, sequence=1, delta=True)))[0] == 202
    rig.clock.now = rig.at(180)
    await rig.notify(call_id, roster(call_id, [call_participant("c-cli", CLIENT_ENTRA, "Client Person", video="sendReceive")], sequence=2, delta=True))
    rig.clock.now = rig.at(300)
    await rig.notify(call_id, roster(call_id, everyone("receiveOnly")))  # the whole roster again
    rig.clock.now = rig.at(330)
    await rig.notify(call_id, roster(call_id, everyone("receiveOnly")))  # unchanged: nothing new
    rig.clock.now = rig.at(360)
    await rig.notify(call_id, roster(call_id, [call_participant("c-cli", CLIENT_ENTRA, "Client Person", video="sendOnly")], change="created", sequence=3, delta=True))

    cameras = await rig.cameras()
    # The client's changes carry the meeting roster's participant id ("p-cli"), not the calls API's; the bot has none.
    assert [(who, on, at) for who, on, at in cameras if who == "p-cli"] == [
        ("p-cli", True, rig.at(10)), ("p-cli", False, rig.at(60)), ("p-cli", True, rig.at(180)),
        ("p-cli", False, rig.at(300)), ("p-cli", True, rig.at(360)),
    ]
    assert {who for who, _, _ in cameras} == {"p-cli", "p-ther"}
    video = (await rig.summary())["client_video"]
    assert video["off_intervals"] == [
        {"start": to_iso(rig.at(60)), "end": to_iso(rig.at(180)), "seconds": 120},
        {"start": to_iso(rig.at(300)), "end": to_iso(rig.at(360)), "seconds": 60},
    ]
    assert (video["off_count"], video["longest_off_seconds"]) == (2, 120)


@pytest.mark.parametrize("direction, on", [("sendReceive", True), ("sendOnly", True), ("receiveOnly", False), ("inactive", False), (None, False)])
async def test_each_video_direction_is_on_or_off(rig, direction, on):
    call_id = await rig.start_call()
    rig.clock.now = rig.at(30)
    await rig.notify(call_id, roster(call_id, [call_participant("c-cli", CLIENT_ENTRA, "Client Person", video=direction)]))
    assert await rig.cameras() == [("p-cli", on, rig.at(30))]


async def test_a_stale_sequence_number_is_ignored_and_a_batch_is_applied_in_sequence_order(rig):
    call_id = await rig.start_call()
    client = "c-cli", CLIENT_ENTRA, "Client Person"
    rig.clock.now = rig.at(20)
    await rig.notify(call_id, roster(call_id, [call_participant(*client, video="inactive")], sequence=3, delta=True))
    rig.clock.now = rig.at(25)
    await rig.notify(call_id, roster(call_id, [call_participant(*client, video="sendReceive")], sequence=2, delta=True))  # older: late
    assert await rig.cameras() == [("p-cli", False, rig.at(20))]
    assert (await rig.bot_call()).roster_sequence == 3
    rig.clock.now = rig.at(40)
    batch = [
        roster(call_id, [call_participant(*client, video="inactive")], sequence=6, delta=True),
        roster(call_id, [call_participant(*client, video="sendReceive")], sequence=5, delta=True),
    ]
    await rig.notify(call_id, *batch)  # one callback, listed out of order: 5 is applied, then 6
    cameras = await rig.cameras()
    assert [(on, at) for _, on, at in cameras] == [(False, rig.at(20)), (True, rig.at(40)), (False, rig.at(40) + timedelta(microseconds=1))]
    assert (await rig.bot_call()).roster_sequence == 6


async def test_the_bots_own_participant_is_ignored_in_its_roster_and_in_the_meetings(rig):
    # The bot joins before the client: Graph's meeting events list it, as an application with our app id.
    bot_entry = participant("p-bot", None, "Session Companion")
    bot_entry["info"]["identity"] = {"application": {"id": CLIENT_ID, "displayName": "Session Companion"}}
    await rig.deliver(
        call_event(JOIN_URL, "callStarted", stamp(rig.at(0)), "n-start"),
        call_event(JOIN_URL, "rosterUpdated", stamp(rig.at(1)), "n-ther", [participant("p-ther", T1_ENTRA, "Therapist A")]),
        call_event(JOIN_URL, "rosterUpdated", stamp(rig.at(2)), "n-bot", [bot_entry]),
        call_event(JOIN_URL, "rosterUpdated", stamp(rig.at(3)), "n-cli", [participant("p-cli", None, "Client Person")]),
    )
    (call_id,) = rig.graph.call_ids()
    rig.clock.now = rig.at(30)
    await rig.notify(call_id, roster(call_id, [call_participant("c-bot", app_id=CLIENT_ID, video="sendReceive")]))
    assert await rig.cameras() == []
    summary = await rig.summary()
    assert sorted(p["role"] for p in summary["participants"]) == ["client", "therapist"]  # the guest who came after the bot
    assert "third_party_joined" not in {a["kind"] for a in summary["alerts"]}
    store = rig.app[keys.STORE]
    (row,) = await store.sessions("t1", "teams")
    people = {e.participant.user_id for e in await store.session_events(row.meeting) if isinstance(e, ev.ParticipantEvent)}
    assert people == {"p-ther", "p-cli"}


async def test_a_guest_is_matched_by_name_and_a_user_by_entra_id(rig):
    call_id = await rig.start_call()
    await rig.deliver(call_event(JOIN_URL, "rosterUpdated", stamp(rig.at(5)), "n-vis", [participant("p-vis", None, "Unknown Visitor")]))
    rig.clock.now = rig.at(30)
    await rig.notify(call_id, roster(call_id, [call_participant("c-vis", None, "Unknown Visitor", video="inactive"), call_participant("c-ther", T1_ENTRA, "Therapist A")]))
    assert sorted((who, on) for who, on, _ in await rig.cameras()) == [("p-ther", True), ("p-vis", False)]


async def test_participants_are_read_once_after_the_call_is_established(rig):
    call_id = await rig.start_call()
    rig.graph.calls[call_id]["participants"] = everyone("inactive")
    rig.clock.now = rig.at(15)
    await rig.notify(call_id, call_state(call_id, "establishing"))
    assert rig.graph.bodies("participants") == []
    await rig.notify(call_id, call_state(call_id, "established"))
    await rig.notify(call_id, call_state(call_id, "established"))  # delivered again
    assert len(rig.graph.bodies("participants")) == 1
    assert sorted((who, on) for who, on, _ in await rig.cameras()) == [("p-cli", False), ("p-ther", True)]
    call = await rig.bot_call()
    assert call.state == "established" and call.participants_read


async def test_keep_alive_every_thirty_minutes_and_hang_up_when_the_meeting_ends(rig):
    call_id = await rig.start_call()
    keep_alive = f"/v1.0/communications/calls/{call_id}/keepAlive"
    rig.clock.now = rig.at(29 * 60)
    await rig.settle()
    assert rig.graph.bodies("keep_alive") == []
    for n in (1, 2, 3):
        rig.clock.now = rig.at(n * 30 * 60 + 1)
        await rig.settle()
        assert [r.path for r in rig.graph.received if r.route == "keep_alive"] == [keep_alive] * n
        if n == 1:  # the session stays lively (the watchdog closes one quiet for 90 minutes, and the bot leaves with it)
            rig.clock.now = rig.at(45 * 60)
            await rig.notify(call_id, roster(call_id, [call_participant("c-cli", CLIENT_ENTRA, "Client Person", video="inactive")]))
    rig.clock.now = rig.at(100 * 60)
    await rig.deliver(call_event(JOIN_URL, "callEnded", stamp(rig.at(100 * 60)), "n-end"))
    assert [r.path for r in rig.graph.received if r.route == "hang_up"] == [f"/v1.0/communications/calls/{call_id}"]
    assert (await rig.bot_call()).state == "hung_up"
    assert await rig.app[keys.TIMEKEEPER].due.pending(kind=CALL_KEEP_ALIVE) == []
    rig.clock.now = rig.at(200 * 60)
    await rig.settle()
    assert len(rig.graph.bodies("keep_alive")) == 3 and len(rig.graph.bodies("hang_up")) == 1
    # Graph's own word that the call is over changes nothing more.
    assert (await rig.notify(call_id, call_state(call_id, "terminated", 200, 5001, change="deleted")))[0] == 202
    assert (await rig.bot_call()).state == "hung_up"


@pytest.mark.parametrize(
    "code, subcode, fix, said",
    [
        (0, 5855, "bypass the lobby", "left waiting in the meeting's lobby"),
        (403, 7503, "Calls.JoinGroupCall.All", "did not let the companion's bot join"),
        (403, 7504, "application access policy", "did not let the companion's bot join"),
    ],
)
async def test_a_lobby_time_out_or_a_refused_join_names_the_fix_and_tells_the_therapist(rig, caplog, code, subcode, fix, said):
    caplog.set_level(logging.INFO)
    call_id = await rig.start_call()
    rig.clock.now = rig.at(60)
    assert (await rig.notify(call_id, call_state(call_id, "terminated", code, subcode, change="deleted")))[0] == 202
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and fix in errors[0] and str(subcode) in errors[0]
    assert "Client Person" not in errors[0] and JOIN_URL not in caplog.text
    (notice,) = await rig.app[keys.STORE].notices("t1", kind="camera_tracking_off")
    assert said in notice.message and notice.session_id == await rig.session_id()
    assert (await rig.bot_call()).state == "failed"
    assert await rig.app[keys.TIMEKEEPER].due.pending(kind=CALL_KEEP_ALIVE) == []
    rig.clock.now = rig.at(31 * 60)
    await rig.settle()
    assert rig.graph.bodies("keep_alive") == []


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        "expired",
        "foreign-audience",
        "foreign-issuer",
        "unknown-key",
        "graph-token",
    ],
)
async def test_a_callback_without_a_good_bot_framework_token_is_refused_and_stores_nothing(rig, token):
    call_id = await rig.start_call()
    before = await rig.counts()
    framework: FakeBotFramework = rig.graph.bot_framework
    minted = {
        "expired": framework.mint(lifetime=-900),
        "foreign-audience": framework.mint(aud="another-app"),
        "foreign-issuer": framework.mint(iss="https://login.microsoftonline.com/x/v2.0"),
        "unknown-key": framework.mint(kid="unpublished-bot-key"),
        "graph-token": rig.graph.mint(),  # signed by Entra, for Graph: not the Bot Framework's
    }.get(token, token)
    rig.clock.now = rig.at(30)
    status, answer = await rig.notify(call_id, roster(call_id, everyone("inactive"), sequence=9, delta=True), call_state(call_id, "terminated", 0, 5855), token=minted)
    assert status == 401 and answer["reason"]
    assert await rig.counts() == before
    call = await rig.bot_call()
    assert (call.state, call.roster_sequence) == ("establishing", None)


async def test_a_duplicate_callback_changes_nothing(rig):
    call_id = await rig.start_call()
    rig.clock.now = rig.at(30)
    update = roster(call_id, [call_participant("c-cli", CLIENT_ENTRA, "Client Person", video="inactive")], sequence=4, delta=True)
    await rig.notify(call_id, update)
    before = await rig.counts()
    rig.clock.now = rig.at(45)
    assert (await rig.notify(call_id, update))[0] == 202
    unsequenced = roster(call_id, [call_participant("c-cli", CLIENT_ENTRA, "Client Person", video="inactive")])
    assert (await rig.notify(call_id, unsequenced))[0] == 202  # the same state once more, without a number
    assert await rig.counts() == before and len(await rig.cameras()) == 1


async def test_a_restarted_service_keeps_the_call_alive_and_hangs_up_at_the_end(aiohttp_client, storage_url, graph_calls, clock, tmp_path):
    port = free_port()
    settings = settings_for(storage_url, graph_calls, port, service_key_file(tmp_path))
    first = Rig(await start(aiohttp_client, settings, clock, port), graph_calls, clock)
    call_id = await first.start_call()
    clock.now = first.at(10)
    await first.notify(call_id, call_state(call_id, "established"))
    await first.client.close()

    again = Rig(await start(aiohttp_client, settings, clock, port), graph_calls, clock)
    again.t0 = first.t0
    assert (await again.bot_call()).call_id == call_id
    clock.now = again.at(30 * 60 + 5)
    await again.settle()
    assert [r.path for r in graph_calls.received if r.route == "keep_alive"] == [f"/v1.0/communications/calls/{call_id}/keepAlive"]
    clock.now = again.at(40 * 60)
    await again.notify(call_id, roster(call_id, [call_participant("c-cli", CLIENT_ENTRA, "Client Person", video="inactive")]))
    assert (await again.cameras())[-1] == ("p-cli", False, again.at(40 * 60))
    await again.deliver(call_event(JOIN_URL, "callEnded", stamp(again.at(45 * 60)), "n-end"))
    assert len(graph_calls.bodies("hang_up")) == 1 and len(graph_calls.bodies("join")) == 1


async def test_a_restart_after_the_meeting_ended_unheard_by_the_bot_hangs_up(aiohttp_client, storage_url, graph_calls, clock, tmp_path):
    port = free_port()
    settings = settings_for(storage_url, graph_calls, port, service_key_file(tmp_path))
    first = Rig(await start(aiohttp_client, settings, clock, port), graph_calls, clock)
    call_id = await first.start_call()
    # The end is stored with nothing told of it (as by a crash just after): nothing plans the bot's hang-up.
    store = first.app[keys.STORE]
    (row,) = await store.sessions("t1", "teams")
    await store.record_events("t1", row.meeting, [("t1:test-end", ev.MeetingEnded(meeting=row.meeting, at=first.at(50 * 60)))], first.at(50 * 60))
    await first.client.close()
    clock.now = first.at(50 * 60)
    again = Rig(await start(aiohttp_client, settings, clock, port), graph_calls, clock)
    await again.settle()
    assert [r.path for r in graph_calls.received if r.route == "hang_up"] == [f"/v1.0/communications/calls/{call_id}"]


async def test_a_session_the_watchdog_closed_is_left_at_the_next_keep_alive(rig):
    call_id = await rig.start_call()
    store = rig.app[keys.STORE]
    (row,) = await store.sessions("t1", "teams")
    closed = ev.SessionClosed(meeting=row.meeting, at=rig.at(20 * 60), reason="watchdog")
    await store.record_events("t1", row.meeting, [("watchdog:test", closed)], rig.at(20 * 60))
    rig.clock.now = rig.at(30 * 60 + 1)
    await rig.settle()
    assert rig.graph.bodies("keep_alive") == []
    assert [r.path for r in rig.graph.received if r.route == "hang_up"] == [f"/v1.0/communications/calls/{call_id}"]
    assert (await rig.bot_call()).state == "hung_up" and await rig.app[keys.TIMEKEEPER].due.pending(kind=CALL_KEEP_ALIVE) == []


async def test_a_therapist_without_camera_tracking_gets_no_bot(aiohttp_client, sqlite_url, graph_calls, clock, tmp_path):
    port = free_port()
    settings = settings_for(sqlite_url, graph_calls, port, service_key_file(tmp_path), tracking=False)
    rig = Rig(await start(aiohttp_client, settings, clock, port), graph_calls, clock)
    await rig.deliver(call_event(JOIN_URL, "callStarted", stamp(rig.at(0)), "n-start"))
    assert rig.graph.bodies("join") == [] and (await rig.counts())["bot_calls"] == 0


@pytest.mark.parametrize(
    "join_url, said",
    [
        ("https://teams.microsoft.com/meet/3141592653?p=Zx9Yw8", "not a meetup-join link"),
        ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_Q2FtZXJhQm90%40thread.v2/0", "has no context"),
        (f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_Q2FtZXJhQm90%40thread.v2/0?context=%7b%22Tid%22%3a%22{TENANT}%22%7d", "names no organiser"),
    ],
)
async def test_a_join_url_the_bot_cannot_use_is_a_clear_error_naming_only_the_meeting(aiohttp_client, sqlite_url, graph_calls, clock, tmp_path, caplog, join_url, said):
    caplog.set_level(logging.INFO)
    port = free_port()
    settings = settings_for(sqlite_url, graph_calls, port, service_key_file(tmp_path), join_url=join_url)
    rig = Rig(await start(aiohttp_client, settings, clock, port, join_url), graph_calls, clock)
    body = {"value": [notification(SUB_ID, STATE, join_url, call_event(join_url, "callStarted", stamp(rig.at(0)), "n-1"), service_key())], "validationTokens": [graph_calls.mint()]}
    assert (await rig.client.post("/webhooks/teams", json=body)).status == 202
    await rig.settle()
    assert graph_calls.bodies("join") == []
    (error,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert said in error and join_url_key(join_url) in error and join_url not in caplog.text and "Q2FtZXJhQm90" not in caplog.text
    (notice,) = await rig.app[keys.STORE].notices("t1", kind="camera_tracking_off")
    assert "could not join" in notice.message
    assert (await rig.bot_call()).state == "failed"


async def test_graph_refusing_the_join_names_the_permission(rig, caplog):
    caplog.set_level(logging.INFO)
    rig.graph.fail("join", status=403)
    await rig.deliver(call_event(JOIN_URL, "callStarted", stamp(rig.at(0)), "n-start"))
    assert rig.graph.bodies("join") == []
    assert any("Calls.JoinGroupCall.All" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    (notice,) = await rig.app[keys.STORE].notices("t1", kind="camera_tracking_off")
    assert notice.message.startswith("Camera tracking is off for this session")


async def test_graph_unavailable_at_the_join_is_tried_again(rig):
    rig.graph.fail("join", times=4, status=503, retry_after="0")  # every attempt of the first try
    await rig.deliver(call_event(JOIN_URL, "callStarted", stamp(rig.at(0)), "n-start"))
    assert rig.graph.bodies("join") == [] and (await rig.bot_call()).state == "joining"
    await rig.app[keys.TIMEKEEPER].reconcile()  # as the scheduler's periodic reconcile does
    await rig.settle()
    assert len(rig.graph.bodies("join")) == 1 and (await rig.bot_call()).state == "establishing"
