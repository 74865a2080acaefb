"""`companion demo --platform teams`: a fifty-minute Teams meeting, played through scripted Entra and Graph.

The meeting is in the therapist's calendar; the service's calendar sync plans its checklist reminder and
subscribes to its call events. Graph then delivers the call as it would: `callStarted`, the roster's
changes and `callEnded` as encrypted rich notifications, and (the service having joined the call as a
calling bot) the participants' video stream directions as calling-bot callbacks.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot.core.events import MeetingRef, VideoStateChanged
from bot.core.settings import Therapist
from bot.services import Services
from bot.storage.store import SessionRow, Store

from .. import keys
from ..calling_bot import CallingBot
from ..const import PLATFORM
from .entra import ScriptedEntra
from .graph import ScriptedCall, ScriptedGraph
from .notifications import (
    OFF,
    ON,
    call_event,
    call_participant,
    comms_notification,
    identity,
    roster_entry,
)
from .tls import loopback_certificate, trusting

TENANT_ID = "7b0c5a1e-5d3e-4f27-9a61-0d3e5c0ffee1"
APP_ID = "c0de5e55-1011-4a2b-8c3d-5e551011c0de"  # the app registration the service signs in as
THERAPIST_ENTRA = "3a9e0f5b-6c1d-4e2f-8a3b-7c4d5e6f7a8b"
CLIENT_ENTRA = "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a"
JOIN_URL = (
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_RGVtb1Nlc3Npb25DMTc%40thread.v2/0"
    f"?context=%7b%22Tid%22%3a%22{TENANT_ID}%22%2c%22Oid%22%3a%22{THERAPIST_ENTRA}%22%7d"
)
MINUTES = 50
PLANNED = -600  # seconds from the start: the calendar sync finds the meeting as its checklist reminder falls due
WAIT_SECONDS = 30  # for what the service does by itself (the first sync makes a key pair and a token first)


@dataclass(frozen=True)
class Person:
    participant_id: str  # a new one every time someone joins a call
    user_id: str | None  # their Entra object id; None for a guest
    name: str
    role: str  # how the demo's lines name them (never by name)


THERAPIST = Person("a1f3c5e7-0001-4000-8000-00000000a001", THERAPIST_ENTRA, "Demo Therapist", "therapist")
CLIENT = Person("b2e4d6f8-0002-4000-8000-00000000b002", CLIENT_ENTRA, "Client Person", "client")
VISITOR = Person("c3d5e7f9-0003-4000-8000-00000000c003", None, "Unknown Visitor", "a third person")
# (seconds from the start, what happens, to whom): the camera turns off twice, for 3 and 2 minutes.
SCRIPT: list[tuple[int, str, Person | None]] = [
    (0, "callStarted", None),
    (20, "joined", THERAPIST),
    (95, "joined", CLIENT),
    (600, "camera off", CLIENT),
    (780, "camera on", CLIENT),
    (2100, "camera off", CLIENT),
    (2220, "camera on", CLIENT),
    (2400, "joined", VISITOR),
    (2475, "left", VISITOR),
    (3000, "left", CLIENT),
    (3010, "left", THERAPIST),
    (3012, "callEnded", None),
]


class TeamsDemo:
    """The scripted Microsoft servers and the meeting they play; `session_id` is set once the call started."""

    platform = PLATFORM
    video_source: str | None = None  # the calling bot reads who is sending video; it receives no frames

    def __init__(self, start: datetime, clock: Callable[[], datetime]) -> None:
        self.start = start
        self.entra = ScriptedEntra(TENANT_ID, APP_ID)
        self.graph = ScriptedGraph(self.entra, clock)
        self.session_id: str | None = None
        self._session: SessionRow | None = None
        self._call: ScriptedCall | None = None
        self._bot: CallingBot | None = None
        self._ids = itertools.count(1)
        self._exit = contextlib.AsyncExitStack()

    async def start_servers(self, folder: Path) -> None:
        """Serve Entra on HTTPS (a throwaway loopback certificate this process trusts meanwhile) and Graph, with the meeting planned."""
        tls, cafile = loopback_certificate(folder)
        self._exit.enter_context(trusting(cafile))
        await self.entra.start(tls)
        self._exit.push_async_callback(self.entra.stop)
        await self.graph.start()
        self._exit.push_async_callback(self.graph.stop)
        self.graph.plan_meeting(THERAPIST_ENTRA, JOIN_URL, self.start, MINUTES, subject="Weekly session")

    async def stop(self) -> None:
        await self._exit.aclose()

    def servers(self) -> str:
        return f"Entra on {self.entra.authority_host}, Graph on {self.graph.base_url}"

    def settings(self) -> dict[str, dict[str, object]]:
        """Return the settings sections (`teams`), the demo therapist's and the client profile's Teams keys."""
        teams: dict[str, object] = {**self.entra.settings(), "graph_base_url": self.graph.base_url, "bot_openid_url": self.entra.bot_openid_url}
        return {
            "teams": teams,
            "therapist": {"teams_user_id": THERAPIST_ENTRA, "teams_camera_tracking": True},
            "client": {"teams_join_urls": [JOIN_URL], "entra_ids": [CLIENT_ENTRA]},
        }

    def _at(self, offset: float) -> str:
        return (self.start + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")

    async def play(self, app: web.Application, services: Services, set_clock: Callable[[datetime], None]) -> AsyncIterator[tuple[float, str]]:
        """Play the meeting on the service's clock; after each step, yield its time (seconds from the start) and what happened.

        `app` is the running service's application: the script waits for its calling bot where Teams would wait too.
        """
        self._bot = app[keys.CALLING_BOT]
        set_clock(self.start + timedelta(seconds=PLANNED))
        await self.graph.wait_for(lambda: self.graph.subscriptions, WAIT_SECONDS)  # made by the service's first calendar sync
        subscription_id = next(iter(self.graph.subscriptions))
        subscriptions = app[keys.SUBSCRIPTIONS]
        # Graph answered before the service kept it: a notification sent now could find no clientState to match.
        await self._until(lambda: subscriptions.get(PLATFORM, subscription_id))
        yield PLANNED, "calendarView: the Teams meeting is planned; the service subscribed to its call events"
        therapist = next(t for t in services.settings.therapists if t.teams_user_id == THERAPIST_ENTRA)
        for offset, what, who in SCRIPT:
            set_clock(self.start + timedelta(seconds=offset))
            if who is None:
                async for line in self._call_event(services, therapist, offset, what):
                    yield offset, line
            elif what in ("joined", "left"):
                yield offset, await self._roster(offset, who, joined=what == "joined")
            else:
                yield offset, await self._camera(services, who, on=what == "camera on")

    async def _call_event(self, services: Services, therapist: Therapist, offset: float, what: str) -> AsyncIterator[str]:
        await self.graph.notify([call_event(JOIN_URL, what, self._at(offset), f"demo-{next(self._ids)}")])
        if what == "callStarted":  # stored before Graph heard 202: the session is there
            self._session = (await services.tracker.store.sessions(therapist.id, PLATFORM, limit=1))[0]
            self.session_id = self._session.id
        yield what
        if what == "callStarted":
            # The service joins the call as a calling bot (the therapist turned camera tracking on).
            bot = self._bot
            assert bot is not None
            self._call = call = await self.graph.wait_for(lambda: next(iter(self.graph.calls.values()), None), WAIT_SECONDS)
            await self._until(lambda: bot.calls.by_call(PLATFORM, call.id))  # it has Graph's answer: the call is its own
            await self.graph.establish(call)
            await bot.settle()  # it reads the participants once established
            yield "calling bot: the service joined the call (established)"
        elif self._call is not None:
            call = self._call
            await self.graph.wait_for(lambda: call in self.graph.hung_up, WAIT_SECONDS)
            ended = {"@odata.type": "#microsoft.graph.call", "state": "terminated", "resultInfo": {"code": 200, "subcode": 5001, "message": "The conversation has ended."}}
            await self.graph.call_back(call, comms_notification(call.resource, ended, change="deleted"))
            yield "calling bot: the service hung up"

    async def _roster(self, offset: float, who: Person, joined: bool) -> str:
        """Deliver the roster change as Graph does twice: a meeting call event, and the bot's participants update."""
        entry = roster_entry(who.participant_id, who.user_id, who.name, TENANT_ID, left=not joined)
        await self.graph.notify([call_event(JOIN_URL, "rosterUpdated", self._at(offset), f"demo-{next(self._ids)}", [entry])])
        if self._call is not None:
            if joined:
                self._call.roster[who.participant_id] = call_participant(who.participant_id, identity(who.user_id, who.name, TENANT_ID, who.participant_id), ON)
            else:
                self._call.roster.pop(who.participant_id, None)
            await self.graph.roster_changed(self._call)
        return f"rosterUpdated: {who.role} {'joined' if joined else 'left'}"

    async def _camera(self, services: Services, who: Person, on: bool) -> str:
        """Turn someone's camera on or off in the call, and wait until the service has recorded it."""
        assert self._call is not None and self._session is not None, "the camera changes only in a call the bot is in"
        store, meeting = services.tracker.store, self._session.meeting
        before = await self._camera_changes(store, meeting)
        self._call.roster[who.participant_id] = call_participant(who.participant_id, identity(who.user_id, who.name, TENANT_ID, who.participant_id), ON if on else OFF)
        await self.graph.roster_changed(self._call)
        await self._until(lambda: self._camera_changed(store, meeting, before))
        return f"calling bot: {who.role} camera {'on' if on else 'off'}"

    @staticmethod
    async def _camera_changes(store: Store, meeting: MeetingRef) -> int:
        return sum(isinstance(e, VideoStateChanged) for e in await store.session_events(meeting))

    async def _camera_changed(self, store: Store, meeting: MeetingRef, before: int) -> bool:
        return await self._camera_changes(store, meeting) > before

    @staticmethod
    async def _until(check: Callable[[], Awaitable[object]]) -> None:
        """Wait until the service has done something (`check()` answers truly), polling; TimeoutError after WAIT_SECONDS."""
        async with asyncio.timeout(WAIT_SECONDS):
            while not await check():
                await asyncio.sleep(0.02)
