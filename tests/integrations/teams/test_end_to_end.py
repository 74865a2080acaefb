"""End to end against a real `companion serve`: a Teams meeting whose client's camera goes off twice (reported by the calling
bot's callbacks), played beside the same meeting on Zoom (RTMS), gives the same alerts and note prompts; refused deliveries
change nothing.

The service talks to fakes on loopback only: Entra (HTTPS, for msal and the token keys), Graph (calendar, subscriptions,
calls), the Bot Framework's OpenID keys (HTTPS) and Zoom's RTMS server. It trusts the loopback certificate through
REQUESTS_CA_BUNDLE (msal) and SSL_CERT_FILE (aiohttp), and decrypts Graph's notifications with the operator's key file.
"""
from __future__ import annotations

import asyncio
import json
import math
import re
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp
import pytest

from bot.core.timefmt import from_iso
from bot.storage.store import session_id_for
from integrations.zoom.rtms import protocol as rtms
from integrations.zoom.scripted.rtms_server import RtmsScriptServer
from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson
from tests.conftest import PRIVACY_TOML, SECRET, THERAPIST_A_HOST, TOKEN_A, free_port, signed_headers
from tests.fakes.botframework import FakeBotFramework
from tests.fakes.companion_process import CompanionProcess
from tests.fakes.entra import CLIENT_ID, TENANT
from tests.fakes.graph_calls import FakeGraphCalls, call_participant, call_state, roster
from tests.fakes.graph_notifications import (
    call_event,
    notification,
    participant,
    service_key,
    service_key_file,
)
from tests.fakes.rtms_server import RTMS_CLIENT_ID, RTMS_SECRET
from tests.fakes.tls import loopback_certificate

T1_ENTRA = "3f1c2d9e-0000-4a6b-9c1d-7e2f5a6b8c01"
CLIENT_ENTRA = "c11e47aa-5b2f-4f0e-8d3c-1a2b3c4d5e6f"
JOIN_URL = (
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_RW5kVG9FbmQ%40thread.v2/0"
    f"?context=%7b%22Tid%22%3a%22{TENANT}%22%2c%22Oid%22%3a%22{T1_ENTRA}%22%7d"
)
ZOOM_MEETING, ZOOM_UUID, STREAM_ID = "85746065432", "e2eTeamsZoomPair0000A==", "e2e0000000000000000000000000ab01"
THERAPIST = ScriptedPerson("16778240", "Dr Ruth Therapist", "A1B2C3D4-0000-4000-8000-0000000000E1", account_id=THERAPIST_A_HOST)
CLIENT = ScriptedPerson("16779264", "Client Person", "C1C2C3C4-0000-4000-8000-0000000000E2")
ALERT_SECONDS, PROMPT_SECONDS, OFF_SECONDS = 2, 1, 3
SETTLE_SECONDS = 60  # bot/core/session_notices.py SETTLE: a camera-off prompt waits this long for late events
AUTH = {"Authorization": f"Bearer {TOKEN_A}"}


def write_config(folder: Path, port: int, graph: FakeGraphCalls, framework: FakeBotFramework) -> Path:
    teams = graph.settings()
    path = folder / "companion.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
[storage]
url = "sqlite+aiosqlite:///{folder / 'companion.db'}"
{PRIVACY_TOML}
[zoom]
webhook_secret_token = "{SECRET}"
rtms_client_id = "{RTMS_CLIENT_ID}"
rtms_client_secret = "{RTMS_SECRET}"
[teams]
tenant_id = "{teams['tenant_id']}"
client_id = "{teams['client_id']}"
client_secret = "{teams['client_secret']}"
authority_host = "{teams['authority_host']}"
graph_base_url = "{teams['graph_base_url']}"
bot_openid_url = "{framework.openid_url}"
encryption_key_file = "{service_key_file(folder)}"
[reminders]
sync_interval_minutes = 1
[alerts]
video_off_alert_seconds = {ALERT_SECONDS}
video_off_repeat_seconds = 3600
[prompts]
camera_off_min_seconds = {PROMPT_SECONDS}
[framing]
enabled = false
[[therapists]]
id = "t1"
name = "Therapist A"
api_token = "{TOKEN_A}"
zoom_user_id = "{THERAPIST_A_HOST}"
teams_user_id = "{T1_ENTRA}"
teams_camera_tracking = true
timezone = "Europe/London"
[[clients]]
code = "C-17"
therapist = "t1"
zoom_meeting_ids = ["{ZOOM_MEETING}"]
teams_join_urls = ["{JOIN_URL}"]
entra_ids = ["{CLIENT_ENTRA}"]
""",
        encoding="utf-8",
    )
    return path


class Service(CompanionProcess):
    """`companion serve` in a subprocess that trusts the loopback certificate."""

    def __init__(self, config: Path, port: int, log: Path, cafile: Path) -> None:
        super().__init__(config, port, log, env={"REQUESTS_CA_BUNDLE": str(cafile), "SSL_CERT_FILE": str(cafile)})

    async def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with aiohttp.ClientSession() as http:
            async with http.post(self.base + path, data=raw, headers={"Content-Type": "application/json", **(headers or {})}) as answer:
                return answer.status, await answer.json(content_type=None)

    async def get(self, path: str, **params: str) -> Any:
        async with aiohttp.ClientSession() as http:
            async with http.get(self.base + path, params=params, headers=AUTH) as answer:
                assert answer.status == 200, await answer.text()
                return await answer.json()

    def events(self) -> int:
        return self._count("SELECT count(*) FROM events")

    def keeps_subscription(self, subscription_id: str) -> bool:
        return self._count("SELECT count(*) FROM platform_subscriptions WHERE subscription_id = ?", subscription_id) == 1

    def _count(self, query: str, *params: str) -> int:
        with sqlite3.connect(self.config.parent / "companion.db") as conn:
            return conn.execute(query, params).fetchone()[0]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def stamp(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def now_ms() -> int:
    return int(time.time() * 1000)


def calendar_event(start: datetime) -> dict[str, Any]:
    form = "%Y-%m-%dT%H:%M:%S.0000000"
    return {
        "id": "AAMk-end-to-end", "type": "singleInstance", "isCancelled": False, "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness", "onlineMeeting": {"joinUrl": JOIN_URL},
        "start": {"dateTime": start.strftime(form), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=50)).strftime(form), "timeZone": "UTC"},
    }


def client_camera(call_id: str, video: str, sequence: int) -> dict[str, Any]:
    return roster(call_id, [call_participant("c-cli", CLIENT_ENTRA, "Client Person", video=video)], sequence=sequence, delta=True)


def projection(summary: dict[str, Any]) -> dict[str, Any]:
    """What refused deliveries could have changed in a live session's summary (not its running duration)."""
    return {k: summary[k] for k in ("participants", "client_video", "alerts", "ended_at", "framing_changes")}


@pytest.fixture
async def fakes(tmp_path):
    tls, cafile = loopback_certificate(tmp_path)
    framework = FakeBotFramework()
    await framework.start(tls)
    graph = FakeGraphCalls(framework)
    await graph.start_both(tls)
    graph.events[T1_ENTRA] = [calendar_event(datetime.now(timezone.utc) + timedelta(minutes=5))]
    zoom = RtmsScriptServer(RTMS_CLIENT_ID, RTMS_SECRET, keep_alive_seconds=1.0)
    await zoom.start()
    yield graph, framework, zoom, cafile
    await zoom.stop()
    await graph.stop()
    await framework.stop()


async def test_a_teams_meeting_with_the_camera_off_twice_matches_zoom_and_refusals_change_nothing(tmp_path, fakes):
    graph, framework, zoom, cafile = fakes
    port = free_port()
    service = Service(write_config(tmp_path, port, graph, framework), port, tmp_path / "server.log", cafile)
    await service.start()
    try:
        await _play(service, graph, framework, zoom)
    finally:
        service.stop()
    log = service.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    for secret in (JOIN_URL, "meeting_RW5kVG9FbmQ", "Client Person", TOKEN_A):
        assert secret not in log


async def _play(service: Service, graph: FakeGraphCalls, framework: FakeBotFramework, zoom: RtmsScriptServer) -> None:
    # The calendar sync (at start) subscribed to the meeting's call events: Graph now knows our clientState.
    await eventually(lambda: _true(bool(graph.subscriptions)), 30, "the meeting's subscription")
    ((subscription_id, made),) = graph.subscriptions.items()
    assert made["notificationUrl"] == f"{service.base}/webhooks/teams"
    # Graph has answered; the service keeps the subscription just after (a notification in between is refused,
    # and Graph would send it again).
    await eventually(lambda: _true(service.keeps_subscription(subscription_id)), 30, "the service to keep the subscription")

    async def deliver(*payloads: dict, state: str = made["clientState"], tokens: list[str] | None = None) -> int:
        items = [notification(subscription_id, state, JOIN_URL, p, service_key()) for p in payloads]
        status, _ = await service.post("/webhooks/teams", {"value": items, "validationTokens": tokens or [graph.mint()]})
        return status

    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=5)
    # Teams: the call starts, the therapist and the client join; the bot is asked in.
    assert await deliver(
        call_event(JOIN_URL, "callStarted", stamp(start), "e2e-1"),
        call_event(JOIN_URL, "rosterUpdated", stamp(start + timedelta(seconds=1)), "e2e-2", [participant("p-ther", T1_ENTRA, "Therapist A")]),
        call_event(JOIN_URL, "rosterUpdated", stamp(start + timedelta(seconds=2)), "e2e-3", [participant("p-cli", CLIENT_ENTRA, "Client Person")]),
    ) == 202
    # Zoom: the same meeting, its client followed over RTMS.
    meeting = ScriptedMeeting(start, ZOOM_MEETING, ZOOM_UUID, THERAPIST_A_HOST, topic="Weekly session")
    meeting.started(0)
    meeting.joined(1, THERAPIST)
    meeting.joined(2, CLIENT)
    meeting.rtms_started(3, STREAM_ID, zoom.open_stream(ZOOM_UUID, STREAM_ID))
    for _, body in meeting.steps:
        raw = json.dumps(body).encode()
        status, _ = await service.post("/webhooks/zoom", raw, signed_headers(raw))
        assert status == 200
    stream = zoom.streams[STREAM_ID]
    await stream.wait_for(lambda s: s.ready, timeout=15)
    await stream.send_event(rtms.PARTICIPANT_JOIN, now_ms(), int(THERAPIST.user_id), THERAPIST.name)
    await stream.send_event(rtms.PARTICIPANT_JOIN, now_ms(), int(CLIENT.user_id), CLIENT.name)
    await stream.wait_for(lambda s: s.following == int(CLIENT.user_id), timeout=15)

    await eventually(lambda: _true(bool(graph.call_ids())), 30, "the bot's join")
    (call_id,) = graph.call_ids()
    (joined,) = graph.bodies("join")
    assert joined["callbackUri"] == f"{service.base}/webhooks/teams/calls"
    assert joined["chatInfo"]["threadId"] == "19:meeting_RW5kVG9FbmQ@thread.v2" and joined["meetingInfo"]["organizer"]["user"]["id"] == T1_ENTRA
    graph.calls[call_id]["participants"] = [
        call_participant("c-ther", T1_ENTRA, "Therapist A"), call_participant("c-cli", CLIENT_ENTRA, "Client Person"),
        call_participant("c-bot", app_id=CLIENT_ID),
    ]
    assert (await graph.notify(call_id, call_state(call_id, "establishing")))[0] == 202
    assert (await graph.notify(call_id, call_state(call_id, "established")))[0] == 202
    await eventually(lambda: _true(len(graph.bodies("participants")) == 1), 15, "the participants read after established")
    # Graph's meeting events list the bot as it joins: an application, with our app id, is nobody in the session.
    bot = participant("p-bot", None, "Session Companion")
    bot["info"]["identity"] = {"application": {"id": CLIENT_ID, "displayName": "Session Companion"}}
    assert await deliver(call_event(JOIN_URL, "rosterUpdated", stamp(datetime.now(timezone.utc)), "e2e-4", [bot])) == 202

    (teams,) = await service.get("/api/sessions", platform="teams")
    zoom_session = session_id_for("zoom", ZOOM_UUID)

    # The client's camera goes off twice, on both platforms at once.
    sent: list[tuple[datetime, datetime]] = []
    sequence = 0
    for _ in range(2):
        await asyncio.sleep(1)
        sequence += 1
        before = datetime.now(timezone.utc)
        assert (await graph.notify(call_id, client_camera(call_id, "inactive", sequence)))[0] == 202
        await stream.send_event(rtms.PARTICIPANT_VIDEO_OFF, now_ms(), int(CLIENT.user_id), CLIENT.name)
        off = (before, datetime.now(timezone.utc))
        await asyncio.sleep(OFF_SECONDS)
        sequence += 1
        before = datetime.now(timezone.utc)
        assert (await graph.notify(call_id, client_camera(call_id, "sendReceive", sequence)))[0] == 202
        await stream.send_event(rtms.PARTICIPANT_VIDEO_ON, now_ms(), int(CLIENT.user_id), CLIENT.name)
        sent.append((off[0], datetime.now(timezone.utc)))

        async def back_on(count: int = len(sent)) -> bool:  # RTMS reports reach the store a moment after they are sent
            intervals = (await service.get(f"/api/sessions/{zoom_session}/summary"))["client_video"]["off_intervals"]
            return len(intervals) == count and intervals[-1]["end"] is not None

        await eventually(back_on, 15, "the Zoom camera's return to be stored")
        if len(sent) == 1:
            await _refusals_change_nothing(service, graph, framework, deliver, call_id, teams["session_id"], sequence)

    # The meeting ends on both (Zoom's webhooks give whole seconds: a little after the camera came back); the bot hangs up.
    await asyncio.sleep(1.5)
    ended = datetime.now(timezone.utc)
    assert await deliver(call_event(JOIN_URL, "callEnded", stamp(ended), "e2e-9")) == 202
    meeting.steps.clear()
    offset = math.ceil((ended - start).total_seconds())
    meeting.left(offset, CLIENT)
    meeting.left(offset, THERAPIST)
    meeting.ended(offset)
    for _, body in meeting.steps:
        raw = json.dumps(body).encode()
        assert (await service.post("/webhooks/zoom", raw, signed_headers(raw)))[0] == 200
    await eventually(lambda: _true(graph.bodies("hang_up") != []), 20, "the bot's hang-up")
    assert [r.path for r in graph.received if r.route == "hang_up"] == [f"/v1.0/communications/calls/{call_id}"]

    # Each camera-off interval's note prompt comes once no event up to its end has arrived for a minute.
    async def prompted(session_id: str) -> bool:
        return len(await service.get("/api/notices", session_id=session_id, kind="note_prompt")) == 2

    await eventually(lambda: prompted(teams["session_id"]), SETTLE_SECONDS + 60, "the Teams session's prompts")
    await eventually(lambda: prompted(zoom_session), 30, "the Zoom session's prompts")

    summaries = {name: await service.get(f"/api/sessions/{sid}/summary") for name, sid in (("teams", teams["session_id"]), ("zoom", zoom_session))}
    video = summaries["teams"]["client_video"]
    assert video["off_count"] == 2 and summaries["zoom"]["client_video"]["off_count"] == 2
    for interval, (off_from, on_by) in zip(video["off_intervals"], sent, strict=True):
        assert off_from - timedelta(seconds=1) <= from_iso(interval["start"]) <= off_from + timedelta(seconds=2)
        assert on_by - timedelta(seconds=2) <= from_iso(interval["end"]) <= on_by + timedelta(seconds=1)
        assert OFF_SECONDS - 1 <= interval["seconds"] <= OFF_SECONDS + 2
    kinds = {name: sorted(a["kind"] for a in s["alerts"]) for name, s in summaries.items()}
    assert kinds["teams"] == kinds["zoom"] == ["client_video_off", "client_video_off"]
    for name, summary in summaries.items():
        assert summary["client_code"] == "C-17", name
        assert sorted(p["role"] for p in summary["participants"]) == ["client", "therapist"], name
        camera = [c for c in summary["framing_changes"] if c["source"] == "camera"]
        assert len(camera) == 2 and all(c["prompt_id"] for c in camera), name
    notices = {name: await service.get("/api/notices", session_id=sid) for name, sid in (("teams", teams["session_id"]), ("zoom", zoom_session))}
    assert sorted(n["kind"] for n in notices["teams"]) == sorted(n["kind"] for n in notices["zoom"])
    # The same questions, worded alike (the lengths and times, measured on each platform's clock, may differ by a second).
    prompts = {name: sorted(re.sub(r"\d+", "N", n["message"]) for n in listed if n["kind"] == "note_prompt") for name, listed in notices.items()}
    assert prompts["teams"] == prompts["zoom"] == ["The client's camera was off for N s (N:N-N:N). What were they doing?"] * 2


async def _refusals_change_nothing(service: Service, graph: FakeGraphCalls, framework: FakeBotFramework, deliver: Any, call_id: str, session_id: str, sequence: int) -> None:
    """A wrong clientState, an expired or foreign validation token, and bad callback tokens: each refused, nothing changed."""
    await asyncio.sleep(0.5)  # the evaluation the last change asked for
    before = (service.events(), projection(await service.get(f"/api/sessions/{session_id}/summary")))
    visitor = call_event(JOIN_URL, "rosterUpdated", stamp(datetime.now(timezone.utc)), "e2e-visitor", [participant("p-vis", None, "Unknown Visitor")])
    assert await deliver(visitor, state="not-the-client-state") == 401
    assert await deliver(visitor, tokens=[graph.mint(lifetime=-900)]) == 401
    assert await deliver(visitor, tokens=[graph.mint(aud="another-app")]) == 401
    camera_off = client_camera(call_id, "inactive", sequence + 100)
    for token in (framework.mint(lifetime=-900), framework.mint(aud="another-app"), graph.mint(), "not-a-token"):
        status, answer = await graph.notify(call_id, camera_off, token=token)
        assert status == 401 and answer["reason"]
    await asyncio.sleep(0.5)
    assert (service.events(), projection(await service.get(f"/api/sessions/{session_id}/summary"))) == before


async def _true(value: bool) -> bool:
    return value
