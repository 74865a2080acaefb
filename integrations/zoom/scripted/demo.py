"""`companion demo` (Zoom, the default): a fifty-minute Zoom meeting as signed webhooks and an RTMS stream.

A dropout and rejoin, a recording, a brief third person, the client's camera off twice, and (with the
vision stack installed) the client's real frames showing them lying down for a while.
"""
from __future__ import annotations

import asyncio
import json
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import aiohttp
from aiohttp import web

from bot.core.events import MeetingRef, VideoStateChanged
from bot.services import Services
from bot.storage.store import session_id_for

from .. import keys as zoom_keys
from ..const import PLATFORM
from ..rtms import protocol as rtms
from ..signature import sign
from .demo_photos import demo_person_frames
from .rtms_server import RtmsScriptServer, ScriptedStream, demo_frame
from .webhooks import ScriptedMeeting, ScriptedPerson

HOST_ID = "DemoHost7xQ2mL0vB9kR4w"
MEETING_ID = "81234567890"
MEETING_UUID = "Dm0+Sess1onUuid00000A=="
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


def demo_meeting(start: datetime, rtms_url: str) -> ScriptedMeeting:
    """Return the scripted session: a dropout and rejoin, a recording, a brief third person, a live stream."""
    meeting = ScriptedMeeting(start, MEETING_ID, MEETING_UUID, HOST_ID, topic="Weekly session")
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


class ZoomDemo:
    """The scripted RTMS server and the meeting's webhooks; `session_id` is set once the meeting started."""

    platform = PLATFORM
    video_source: str | None = "RTMS"

    def __init__(self, start: datetime, clock: Callable[[], datetime]) -> None:
        self.start = start
        self.session_id: str | None = None
        self._secret, self._rtms_secret = secrets.token_hex(16), secrets.token_hex(16)
        self._rtms = RtmsScriptServer(RTMS_APP_ID, self._rtms_secret, keep_alive_seconds=1.0)

    async def start_servers(self, folder: Path) -> None:
        await self._rtms.start()

    async def stop(self) -> None:
        await self._rtms.stop()

    def servers(self) -> str:
        return f"RTMS on {self._rtms.base}"

    def settings(self) -> dict[str, dict[str, object]]:
        """Return the settings sections (`zoom`), the demo therapist's and the client profile's Zoom keys."""
        return {
            "zoom": {"webhook_secret_token": self._secret, "rtms_client_id": RTMS_APP_ID, "rtms_client_secret": self._rtms_secret},
            "therapist": {"zoom_user_id": HOST_ID},
            "client": {"zoom_meeting_ids": [MEETING_ID]},
        }

    async def play(self, app: web.Application, services: Services, set_clock: Callable[[datetime], None]) -> AsyncIterator[tuple[float, str]]:
        """Play the meeting on the service's clock; after each step, yield its time (seconds from the start) and what happened."""
        base = services.settings.server.public_url
        meeting = demo_meeting(self.start, self._rtms.open_stream(MEETING_UUID, STREAM_ID))
        stream = self._rtms.streams[STREAM_ID]
        steps = sorted([(o, 0, body) for o, body in meeting.steps] + [(o, 1, (kind, who)) for o, kind, who in DEMO_CAMERA], key=lambda s: s[:2])
        person = demo_person_frames()  # a real person's frames when the vision stack is installed
        async with aiohttp.ClientSession() as http:
            for offset, _, step in steps:
                set_clock(self.start + timedelta(seconds=offset))
                if isinstance(step, dict):  # a webhook's body; else an RTMS step
                    await self._webhook(http, base, step)
                    line = step["event"]
                    if line == "meeting.started":
                        self.session_id = session_id_for(PLATFORM, MEETING_UUID)
                else:
                    kind, who = step
                    await _rtms_step(services, meeting, stream, offset, kind, who)
                    line = f"rtms: {'therapist' if who is THERAPIST else 'client'} {RTMS_WORDS[kind]}"
                await _send_frame(stream, services.framing, person, offset, int((self.start + timedelta(seconds=offset)).timestamp() * 1000))
                await app[zoom_keys.RTMS].settle()
                yield offset, line

    async def _webhook(self, http: aiohttp.ClientSession, base: str, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()  # the exact bytes we sign and send
        stamp = str(int(datetime.now(timezone.utc).timestamp()))
        headers = {"x-zm-request-timestamp": stamp, "x-zm-signature": sign(self._secret, stamp, raw), "Content-Type": "application/json"}
        async with http.post(f"{base}/webhooks/zoom", data=raw, headers=headers) as response:
            response.raise_for_status()


async def _camera_changes(services: Services, meeting: ScriptedMeeting) -> int:
    events = await services.tracker.store.session_events(MeetingRef(PLATFORM, meeting.uuid))
    return sum(isinstance(e, VideoStateChanged) for e in events)


async def _rtms_step(services: Services, meeting: ScriptedMeeting, stream: ScriptedStream, offset: float, kind: int, who: ScriptedPerson) -> None:
    """Have the scripted RTMS server report one event, and wait until the service has acted on it."""
    await stream.wait_for(lambda s: s.ready)
    before = await _camera_changes(services, meeting)
    at_ms = int((meeting.start + timedelta(seconds=offset)).timestamp() * 1000)
    await stream.send_event(kind, at_ms, int(who.user_id), who.name)
    if kind in (rtms.PARTICIPANT_VIDEO_ON, rtms.PARTICIPANT_VIDEO_OFF):
        async with asyncio.timeout(5):
            while await _camera_changes(services, meeting) == before:
                await asyncio.sleep(0.02)
    elif kind == rtms.PARTICIPANT_JOIN and who.participant_uuid == CLIENT.participant_uuid:
        await stream.wait_for(lambda s: s.following == int(who.user_id))


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
