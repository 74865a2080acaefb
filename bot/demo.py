"""Run a scripted therapy meeting through the real service on loopback and write its summary."""
from __future__ import annotations

import asyncio
import base64
import json
import secrets
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.config.settings_file import parse_settings
from bot.core.events import MeetingRef, VideoStateChanged
from bot.core.settings import Settings
from bot.core.timefmt import from_iso, local_text
from bot.storage.files import write_private
from bot.storage.notices import NoticeRow
from bot.storage.store import session_id_for
from bot.tracking.notice_board import Published
from bot.web.app import create_app
from bot.web.passwords import hash_password
from integrations.zoom import keys as zoom_keys
from integrations.zoom.rtms import protocol as rtms
from integrations.zoom.scripted.demo_photos import demo_person_frames
from integrations.zoom.scripted.rtms_server import (
    RtmsScriptServer,
    ScriptedStream,
    demo_frame,
)
from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson
from integrations.zoom.signature import sign

from .web import keys

HOST_ID = "DemoHost7xQ2mL0vB9kR4w"
TOKEN = secrets.token_urlsafe(24)
ZONE = "Europe/London"
SECONDS_PER_STEP = 0.4  # a fifty-minute meeting replays in a few seconds
RTMS_APP_ID = "DemoRtmsApp0000"
STREAM_ID = "d3m0a7e5c0ffee0000000000000000aa"
THERAPIST = ScriptedPerson("16778240", "Demo Therapist", "0001-THERAPIST", account_id=HOST_ID)
CLIENT = ScriptedPerson("16779264", "Client Person", "0002-CLIENT", email="client@example.invalid")
CLIENT_AGAIN = CLIENT.rejoined("16780288")
VISITOR = ScriptedPerson("16781312", "Unknown Visitor", "0003-VISITOR")
# What the scripted RTMS server reports: (seconds from start, RTMS event type, who).
DEMO_CAMERA = [
    (25, rtms.PARTICIPANT_JOIN, THERAPIST),
    (95, rtms.PARTICIPANT_JOIN, CLIENT),
    (600, rtms.PARTICIPANT_VIDEO_OFF, CLIENT),
    (780, rtms.PARTICIPANT_VIDEO_ON, CLIENT),
    (1260, rtms.PARTICIPANT_LEAVE, CLIENT),
    (1310, rtms.PARTICIPANT_JOIN, CLIENT_AGAIN),
    (2100, rtms.PARTICIPANT_VIDEO_OFF, CLIENT_AGAIN),
    (2190, rtms.PARTICIPANT_VIDEO_ON, CLIENT_AGAIN),
]
LYING_DOWN = (1800, 2100)  # seconds from the start during which the client's frames show them lying down
FRAMES_PER_STEP = 8
RTMS_WORDS = {
    rtms.PARTICIPANT_JOIN: "joined the stream",
    rtms.PARTICIPANT_LEAVE: "left the stream",
    rtms.PARTICIPANT_VIDEO_OFF: "camera off",
    rtms.PARTICIPANT_VIDEO_ON: "camera on",
}


class ScriptClock:
    """The demo's clock: it shows the scripted meeting's time, not the wall clock."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def demo_settings(folder: Path, secret: str, rtms_secret: str) -> Settings:
    """Return settings for one demo therapist and client, storing in `folder`."""
    return parse_settings(
        {
            "server": {"session_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()},
            "storage": {"url": f"sqlite+aiosqlite:///{folder / 'companion.db'}"},
            "zoom": {"webhook_secret_token": secret, "rtms_client_id": RTMS_APP_ID, "rtms_client_secret": rtms_secret},
            "therapists": [{"id": "demo", "name": "Demo Therapist", "api_token": TOKEN, "zoom_user_id": HOST_ID, "timezone": ZONE}],
            "clients": [{"code": "C-17", "therapist": "demo", "zoom_meeting_ids": ["81234567890"]}],
        },
        {},
    )


def demo_meeting(start: datetime, rtms_url: str) -> ScriptedMeeting:
    """Return the scripted session: a dropout and rejoin, a recording, a brief third person, a live stream."""
    meeting = ScriptedMeeting(start, "81234567890", "Dm0+Sess1onUuid00000A==", HOST_ID, topic="Weekly session")
    meeting.created(-600)  # as the checklist reminder falls due (lead_minutes before the start)
    meeting.started(0)
    meeting.joined(20, THERAPIST)
    meeting.rtms_started(25, STREAM_ID, rtms_url)
    meeting.joined(95, CLIENT)
    meeting.left(1260, CLIENT)
    meeting.joined(1310, CLIENT_AGAIN)
    meeting.recording(1800)
    meeting.recording(1900, started=False)
    meeting.joined(2400, VISITOR)
    meeting.left(2475, VISITOR)
    meeting.left(3000, CLIENT_AGAIN)
    meeting.left(3010, THERAPIST)
    meeting.ended(3012)
    return meeting


async def _camera_changes(app: web.Application, meeting: ScriptedMeeting) -> int:
    events = await app[keys.STORE].session_events(MeetingRef("zoom", meeting.uuid))
    return sum(isinstance(e, VideoStateChanged) for e in events)


async def _rtms_step(app: web.Application, meeting: ScriptedMeeting, stream: ScriptedStream, offset: float, kind: int, who: ScriptedPerson) -> None:
    """Have the scripted RTMS server report one event, and wait until the service has acted on it."""
    await stream.wait_for(lambda s: s.ready)
    before = await _camera_changes(app, meeting)
    at_ms = int((meeting.start + timedelta(seconds=offset)).timestamp() * 1000)
    await stream.send_event(kind, at_ms, int(who.user_id), who.name)
    if kind in (rtms.PARTICIPANT_VIDEO_ON, rtms.PARTICIPANT_VIDEO_OFF):
        async with asyncio.timeout(5):
            while await _camera_changes(app, meeting) == before:
                await asyncio.sleep(0.02)
    elif kind == rtms.PARTICIPANT_JOIN and who.participant_uuid == CLIENT.participant_uuid:
        await stream.wait_for(lambda s: s.following == int(who.user_id))


async def _tick_before_the_call(http: aiohttp.ClientSession, base: str, auth: dict[str, str]) -> None:
    """Have the therapist confirm a few checklist points on the planned appointment, as a page would."""
    async with http.get(f"{base}/api/appointments", headers=auth) as response:
        response.raise_for_status()
        (appointment,) = await response.json()
    items = appointment["checklist"]["items"]
    for item in items[:3]:
        url = f"{base}/api/appointments/{appointment['appointment_id']}/checklist/{item['id']}"
        async with http.post(url, headers=auth) as response:
            response.raise_for_status()
    print(f"  therapist confirmed 3 of {len(items)} checklist points before the call", flush=True)


DEMO_NOTE = "Said they stepped out to take a delivery; back and settled after."


def _print_notice(row: NoticeRow) -> None:
    label = "PROMPT" if row.kind == "note_prompt" else "ALERT"  # a prompt is a question, not an alarm
    print(f"  {label} {local_text(from_iso(row.at), ZONE)}  {row.kind} #{row.id}: {row.message}", flush=True)


async def _answer_a_camera_prompt(http: aiohttp.ClientSession, base: str, session_id: str, auth: dict[str, str]) -> None:
    """Have the therapist answer the first camera-off prompt, as a page would, and show the note."""
    async with http.get(f"{base}/api/notices", params={"session_id": session_id, "kind": "note_prompt"}, headers=auth) as response:
        response.raise_for_status()
        prompts = [n for n in await response.json() if "camera" in n["message"]]
    if not prompts:
        print("  (no camera-off prompt to answer)", flush=True)
        return
    prompt = prompts[-1]  # newest first: the last is the first interval's
    body = {"text": DEMO_NOTE, "prompt_id": prompt["id"]}
    async with http.post(f"{base}/api/sessions/{session_id}/notes", json=body, headers=auth) as response:
        response.raise_for_status()
    print(f"  therapist answered prompt #{prompt['id']} ({prompt['message']}): {DEMO_NOTE}", flush=True)


async def _send_frame(stream: ScriptedStream, framing: Any, person: tuple[list[bytes], list[bytes]] | None, offset: float, at_ms: int) -> None:
    """Send the client's video at this step (only while followed and on), and let the framing analysis see it.

    With the vision stack, a few seconds of a real person's frames at 1 frame/s: the analysis needs a
    framing to hold for its debounce before it calls it a change.
    """
    if person is None:
        await stream.send_frame(demo_frame(), at_ms)
        return
    pictures = person[1] if LYING_DOWN[0] <= offset < LYING_DOWN[1] else person[0]
    for second in range(FRAMES_PER_STEP):
        picture = pictures[second % len(pictures)]
        if not await stream.send_frame(picture, at_ms + second * 1000) or framing is None:
            return
        async with asyncio.timeout(60):  # the first frame starts the analysis workers: the rest wait for them
            while framing.analyzer.analysed == 0:
                await asyncio.sleep(0.1)
                await stream.send_frame(picture, at_ms + second * 1000)
        await framing.drain()


async def _print_notices(queue: asyncio.Queue[Published]) -> None:
    while True:
        item = await queue.get()
        if isinstance(item, NoticeRow):  # the board also publishes delivery changes
            _print_notice(item)


async def _demo_password(app: web.Application) -> str:
    """Give the demo therapist a fresh password for the pages, and return it."""
    password = secrets.token_urlsafe(12)
    await app[keys.SIGN_INS].set_password("demo", hash_password(password), app[keys.CLOCK]())
    return password


async def run_demo(out_dir: Path | None = None, wait: bool = False) -> int:
    """Replay the script over HTTP and RTMS against the service and write the summary; return an exit code.

    With `wait`, the service stays up afterwards (until Ctrl-C) so that a person can read its pages.
    """
    folder = Path(tempfile.mkdtemp(prefix="companion-demo-"))
    out_dir = out_dir or folder
    start = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(second=0, microsecond=0)
    clock = ScriptClock(start)
    secret, rtms_secret = secrets.token_hex(16), secrets.token_hex(16)
    rtms_server = RtmsScriptServer(RTMS_APP_ID, rtms_secret, keep_alive_seconds=1.0)
    await rtms_server.start()
    app = create_app(demo_settings(folder, secret, rtms_secret), clock=clock)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    print(f"Session Companion demo: service on {base}, RTMS on {rtms_server.base}, data in {folder}", flush=True)
    password = await _demo_password(app)
    print(f"The therapist's pages: {base}/sign-in  (id: demo, password: {password})", flush=True)
    printer = asyncio.create_task(_print_notices(app[keys.BOARD].listen()))
    meeting = demo_meeting(start, rtms_server.open_stream("Dm0+Sess1onUuid00000A==", STREAM_ID))
    stream = rtms_server.streams[STREAM_ID]
    steps = sorted([(o, 0, body) for o, body in meeting.steps] + [(o, 1, (kind, who)) for o, kind, who in DEMO_CAMERA], key=lambda s: s[:2])
    person = demo_person_frames()  # a real person's frames when the vision stack is installed
    framing = app[keys.SERVICES].framing
    try:
        async with aiohttp.ClientSession() as http:
            for offset, source, step in steps:
                clock.now = start + timedelta(seconds=offset)
                if source == 0:
                    raw = json.dumps(step).encode()  # the exact bytes we sign and send
                    stamp = str(int(datetime.now(timezone.utc).timestamp()))
                    headers = {"x-zm-request-timestamp": stamp, "x-zm-signature": sign(secret, stamp, raw), "Content-Type": "application/json"}
                    async with http.post(f"{base}/webhooks/zoom", data=raw, headers=headers) as response:
                        response.raise_for_status()
                    print(f"{local_text(clock.now, ZONE)}  {step['event']}", flush=True)
                    if step["event"] == "meeting.started":
                        print(f"The live page: {base}/sessions/{session_id_for('zoom', meeting.uuid)}", flush=True)
                    if step["event"] == "meeting.created":
                        await asyncio.sleep(0.2)  # the checklist reminder falls due at once
                        await _tick_before_the_call(http, base, {"Authorization": f"Bearer {TOKEN}"})
                else:
                    kind, who = step
                    await _rtms_step(app, meeting, stream, offset, kind, who)
                    role = "therapist" if who is THERAPIST else "client"
                    print(f"{local_text(clock.now, ZONE)}  rtms: {role} {RTMS_WORDS[kind]}", flush=True)
                await _send_frame(stream, framing, person, offset, int(clock.now.timestamp() * 1000))
                await app[zoom_keys.RTMS].settle()
                await app[keys.EVALUATION].drain()
                await asyncio.sleep(SECONDS_PER_STEP)
            session_id = session_id_for("zoom", meeting.uuid)
            auth = {"Authorization": f"Bearer {TOKEN}"}
            await _answer_a_camera_prompt(http, base, session_id, auth)
            async with http.get(f"{base}/api/sessions/{session_id}", headers=auth) as response:
                response.raise_for_status()
                frames = (await response.json())["frames"] or {"count": 0}
            paths = []
            for fmt in ("md", "html"):
                url = f"{base}/api/sessions/{session_id}/summary?format={fmt}"
                async with http.get(url, headers=auth) as response:
                    response.raise_for_status()
                    path = out_dir / f"summary-{session_id}.{fmt}"
                    write_private(path, (await response.text()).encode("utf-8"))
                    paths.append(path)
        _print_results(frames, paths)
        if wait:
            await _serve_until_interrupted(base, session_id)
    finally:
        printer.cancel()
        await runner.cleanup()
        await rtms_server.stop()
    return 0


def _print_results(frames: dict[str, Any], paths: list[Path]) -> None:
    size = f" at {frames['width']}x{frames['height']}" if frames["count"] else ""
    print(f"Client video frames received over RTMS: {frames['count']}{size} (counted, never stored)")
    print("Summary written:")
    for path in paths:
        print(f"  {path}")


async def _serve_until_interrupted(base: str, session_id: str) -> None:
    print(f"The summary page: {base}/sessions/{session_id}/summary", flush=True)
    print("The pages stay open until Ctrl-C.", flush=True)
    await asyncio.Event().wait()


def main(wait: bool = True) -> int:
    """Entry point of `companion demo` (`--no-wait`: stop once the summary is written)."""
    try:
        return asyncio.run(run_demo(wait=wait))
    except KeyboardInterrupt:
        return 130
    except aiohttp.ClientError as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1
