"""The calling bot: joins a camera-tracking therapist's Teams meeting call, follows its roster's cameras, keeps alive, hangs up.

Graph's meeting call events carry no camera state; a bot in the call gets each participant's media streams.
Its work is due work in the service's database (join, keep-alive every 30 minutes, hang-up), so a restart or
another instance carries on where it stopped; the bot's call itself is a row claimed once per session
(bot/storage/bot_calls.py), so one call never gets two bots. Every callback's camera changes are stored before
the callback is acknowledged.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any, Awaitable, Mapping, Sequence
from urllib.parse import quote

from bot.core import events as ev
from bot.core.clients import therapist_for_meeting
from bot.core.due_work import FIRED, SKIPPED, DueRow, DueWork
from bot.core.settings import Therapist
from bot.core.timefmt import to_stamp
from bot.services import Services
from bot.storage import bot_calls as calls_table
from bot.storage.bot_calls import BotCall, BotCallStore
from bot.storage.store import SessionRow, session_id_for
from bot.storage.subscriptions import SubscriptionStore

from .call_roster import (
    CallNotification,
    CallState,
    RosterUpdate,
    camera_changes,
    participants,
)
from .const import (
    CALL_HANG_UP,
    CALL_JOIN,
    CALL_KEEP_ALIVE,
    CALLS_API,
    CALLS_PATH,
    KEEP_ALIVE_MINUTES,
    PLATFORM,
)
from .graph import GraphClient, GraphError
from .join_url import JoinUrlError, join_body, parse_join_url

_LOGGER = logging.getLogger(__name__)
CLAIM_HOLD = timedelta(minutes=2)  # a join in flight holds the session's bot this long (a crashed one's lapses)
LIVE_FOR = timedelta(hours=12)  # at start-up, a started call this recent with no end and no bot gets one
CAMERA_OFF_NOTICE = "camera_tracking_off"
LOBBY_TIMEOUT = frozenset({"5855"})
JOIN_REFUSED = frozenset({"7503", "7504"})
# What the therapist is told when the bot cannot follow the client's camera (factual; the details go to the log).
WHY_OFF = {
    "lobby": "Camera tracking is off for this session: the companion's bot was left waiting in the meeting's lobby.",
    "refused": "Camera tracking is off for this session: Teams did not let the companion's bot join the meeting.",
    "join": "Camera tracking is off for this session: the companion's bot could not join the meeting.",
}


def _ended(events: Sequence[ev.MeetingEvent]) -> bool:
    return any(isinstance(e, (ev.MeetingEnded, ev.SessionClosed)) for e in events)


class CallingBot:
    """The bot of every camera-tracking therapist's Teams calls; `start` wires its due work and its listener in."""

    def __init__(self, services: Services, graph: GraphClient, subscriptions: SubscriptionStore, calls: BotCallStore) -> None:
        settings = services.settings
        if not settings.teams.client_id:
            raise ValueError("[teams] client_id is required for the calling bot")
        self.services = services
        self.calls = calls
        self._graph = graph
        self._subscriptions = subscriptions
        self._callback_uri = settings.server.public_url.rstrip("/") + CALLS_PATH
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._reading: set[str] = set()

    # -- running -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take the bot's due work, listen for stored call starts and ends, and pick up where a previous run stopped."""
        keeper = self.services.timekeeper
        keeper.register(CALL_JOIN, self.join)
        keeper.register(CALL_KEEP_ALIVE, self.keep_alive)
        keeper.register(CALL_HANG_UP, self.hang_up)
        self.services.stored.subscribe(self.stored)
        await keeper.reconcile()  # rows that woke before their handler was there
        await self._resume()

    async def stop(self) -> None:
        self.services.stored.unsubscribe(self.stored)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def settle(self) -> None:
        """Wait for the bot's background work (planning, reading participants) started so far."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _later(self, work: Awaitable[None], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception as err:  # its text may quote a Graph answer: its kind only
                _LOGGER.error("the calling bot failed to %s (%s)", what, type(err).__name__)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    def _tracking(self, meeting: ev.MeetingRef) -> Therapist | None:
        therapist = therapist_for_meeting(self.services.settings, meeting)
        return therapist if therapist is not None and therapist.teams_camera_tracking else None

    async def _plan(self, key: str, kind: str, due: datetime, therapist_id: str, session_id: str) -> None:
        await self.services.timekeeper.plan(DueWork(key, kind, due, therapist_id, session_id))

    def stored(self, meeting: ev.MeetingRef, events: Sequence[ev.MeetingEvent]) -> None:
        """StoredEvents listener: a stored call start plans the bot's join, a stored end its hang-up (never waits)."""
        if meeting.platform != PLATFORM or (therapist := self._tracking(meeting)) is None:
            return
        session_id = session_id_for(meeting.platform, meeting.occurrence_id)
        now = self.services.clock()
        if any(isinstance(e, ev.MeetingStarted) for e in events):
            self._later(self._plan(f"{CALL_JOIN}:{session_id}", CALL_JOIN, now, therapist.id, session_id), "plan a join")
        if any(isinstance(e, ev.MeetingEnded) for e in events):
            self._later(self._plan(f"{CALL_HANG_UP}:{session_id}", CALL_HANG_UP, now, therapist.id, session_id), "plan a hang-up")

    async def _resume(self) -> None:
        """After a restart: hang up the calls whose meeting ended, keep the others alive, read what was not read, join what was missed."""
        store, now = self.services.tracker.store, self.services.clock()
        for call in await self.calls.live(PLATFORM):
            events = await store.session_events(call.meeting)
            if _ended(events):
                await self._plan(f"{CALL_HANG_UP}:{call.session_id}", CALL_HANG_UP, now, call.therapist_id, call.session_id)
                continue
            if call.call_id is None:
                continue  # its join row is pending, or its claim lapses and the join is planned below
            if not await self.services.timekeeper.due.pending(kind=CALL_KEEP_ALIVE, session_id=call.session_id):
                await self._plan_keep_alive(call, now)  # one may have been missed while the service was down
            if call.state == "established" and not call.participants_read:
                self._later(self._read_participants(call), "read the call's participants")
        for therapist in self.services.settings.therapists:
            if therapist.teams_camera_tracking and therapist.teams_user_id:
                await self._join_missed(therapist, now)

    async def _join_missed(self, therapist: Therapist, now: datetime) -> None:
        """Plan a join for a recent call of the therapist's that started, has not ended, and has no bot (a start stored just before a crash)."""
        store = self.services.tracker.store
        for row in await store.sessions(therapist.id, PLATFORM, limit=10):
            if await self.calls.by_session(row.id) is not None:
                continue
            events = await store.session_events(row.meeting)
            starts = [e.at for e in events if isinstance(e, ev.MeetingStarted)]
            if starts and not _ended(events) and now - max(starts) < LIVE_FOR:
                await self._plan(f"{CALL_JOIN}:{row.id}", CALL_JOIN, now, therapist.id, row.id)

    # -- due work ------------------------------------------------------------------------------

    async def join(self, row: DueRow) -> str | None:
        """Join the session's call as the bot (due work `call_join`): claimed once, the join URL read, Graph asked."""
        session_id, now = row.work.session_id or "", self.services.clock()
        session = await self.services.tracker.store.session(session_id)
        therapist = self.services.settings.therapist(session.therapist_id) if session is not None else None
        if session is None or therapist is None or not therapist.teams_camera_tracking:
            return SKIPPED
        meeting = ev.MeetingRef(PLATFORM, session.occurrence_id, session.meeting_id, session.host_id or therapist.teams_user_id)
        if _ended(await self.services.tracker.store.session_events(meeting)):
            return SKIPPED  # the call ended before the bot could join
        claimed = await self.calls.claim(session_id, therapist.id, meeting, now, CLAIM_HOLD)
        if claimed == calls_table.BUSY:  # another join is in flight: look again once its claim would have lapsed
            await self._plan(row.work.key, CALL_JOIN, now + CLAIM_HOLD, therapist.id, session_id)
            return None
        if claimed == calls_table.TAKEN:
            _LOGGER.info("the calling bot of session %s has joined already: join skipped", session_id)
            return SKIPPED
        body = await self._join_body(session, therapist)
        if body is None:
            await self._give_up(session_id, therapist.id, "join", "no_join_url")
            return SKIPPED
        try:
            made = await self._graph.post("join meeting call", CALLS_API, body)
        except GraphError as err:
            if err.retryable:
                await self.calls.release(session_id, self.services.clock())
                raise  # the row stays pending: the next reconcile tries again
            _LOGGER.error(
                "Teams refused the calling bot for meeting %s (session %s): %s; grant the app Calls.JoinGroupCall.All "
                "(admin consent) and check the tenant's application access policy for the organiser",
                session.meeting_id, session_id, err,
            )
            await self._give_up(session_id, therapist.id, "refused", f"http_{err.status}")
            return FIRED
        call_id = made.get("id") if isinstance(made, dict) else None
        state = made.get("state") if isinstance(made, dict) else None
        if not isinstance(call_id, str) or not call_id or len(call_id) > 128:
            await self.calls.release(session_id, self.services.clock())
            raise GraphError("join meeting call", 0, "no_call_id", True)
        now = self.services.clock()
        if not await self.calls.joined(session_id, call_id, state if isinstance(state, str) and len(state) <= 16 else "establishing", now):
            _LOGGER.info("the call of session %s ended while its bot joined: hanging up call %s", session_id, call_id)
            await self._delete(call_id)
            return FIRED
        _LOGGER.info("the calling bot joined meeting %s (session %s): call %s", session.meeting_id, session_id, call_id)
        call = await self.calls.by_session(session_id)
        if call is not None:
            await self._plan_keep_alive(call, now)
        return FIRED

    async def _join_body(self, session: SessionRow, therapist: Therapist) -> dict[str, Any] | None:
        """Return the join request for the session's meeting, from its join URL (its subscription's); None if it cannot be read."""
        subscriptions = await self._subscriptions.of_therapist(PLATFORM, therapist.id)
        join_url = next((s.join_url for s in subscriptions if s.meeting_id == session.meeting_id and s.join_url), "")
        if not join_url:
            _LOGGER.error("no join URL is known for meeting %s (session %s): the calling bot cannot join it", session.meeting_id, session.id)
            return None
        try:
            return join_body(parse_join_url(join_url), self._callback_uri)
        except JoinUrlError as err:
            _LOGGER.error("the join URL of meeting %s (session %s) cannot be used by the calling bot: %s", session.meeting_id, session.id, err)
            return None

    async def _plan_keep_alive(self, call: BotCall, now: datetime) -> None:
        due = now + timedelta(minutes=KEEP_ALIVE_MINUTES)
        await self._plan(f"{CALL_KEEP_ALIVE}:{call.session_id}:{to_stamp(due)}", CALL_KEEP_ALIVE, due, call.therapist_id, call.session_id)

    async def keep_alive(self, row: DueRow) -> str | None:
        """Tell Graph the bot's call is still wanted (due work `call_keep_alive`, every 30 minutes while it lasts)."""
        call = await self.calls.by_session(row.work.session_id or "")
        if call is None or call.over or call.call_id is None:
            return SKIPPED
        if _ended(await self.services.tracker.store.session_events(call.meeting)):
            # Closed by the watchdog (no end was ever reported), or its end's hang-up was lost: leave now.
            return await self.hang_up(row)
        try:
            await self._graph.post("keep call alive", f"{CALLS_API}/{quote(call.call_id, safe='')}/keepAlive")
        except GraphError as err:
            if err.status != 404:
                raise  # the row stays pending: tried again at the next reconcile, well within Graph's 45 minutes
            _LOGGER.warning("the call %s of session %s is gone at Graph: keep-alive stopped", call.call_id, call.session_id)
            await self.calls.set_state(call.session_id, calls_table.TERMINATED, self.services.clock(), "gone")
            return SKIPPED
        await self._plan_keep_alive(call, self.services.clock())
        return FIRED

    async def hang_up(self, row: DueRow) -> str | None:
        """Leave the call as its meeting ends (due work `call_hang_up`), and stop keeping it alive."""
        session_id = row.work.session_id or ""
        call = await self.calls.by_session(session_id)
        if call is None or call.over:
            await self._stop_keep_alive(session_id)
            return SKIPPED
        if call.call_id is not None:
            await self._delete(call.call_id)
        await self.calls.set_state(session_id, calls_table.HUNG_UP, self.services.clock(), "meeting_ended")
        await self._stop_keep_alive(session_id)
        _LOGGER.info("the calling bot of session %s left the call as the meeting ended", session_id)
        return FIRED

    async def _delete(self, call_id: str) -> None:
        try:
            await self._graph.delete("hang up call", f"{CALLS_API}/{quote(call_id, safe='')}")
        except GraphError as err:
            if err.status != 404:  # gone already is as good as hung up
                raise

    async def _stop_keep_alive(self, session_id: str) -> None:
        keeper = self.services.timekeeper
        await keeper.cancel(await keeper.due.pending(kind=CALL_KEEP_ALIVE, session_id=session_id))

    async def _give_up(self, session_id: str, therapist_id: str, why: str, result: str) -> None:
        """Mark the session's bot as failed and tell the therapist, privately and once, that the camera is not followed."""
        now = self.services.clock()
        await self.calls.set_state(session_id, calls_table.FAILED, now, result)
        await self._stop_keep_alive(session_id)
        board = self.services.tracker.board
        await board.raise_notice(therapist_id, session_id, CAMERA_OFF_NOTICE, f"{session_id}:{CAMERA_OFF_NOTICE}", now, WHY_OFF[why], now)

    # -- callbacks -----------------------------------------------------------------------------

    async def take(self, notifications: Sequence[CallNotification], raw: Mapping[str, Any]) -> None:
        """Apply a verified callback's notifications, storing their camera changes (the caller acknowledges after)."""
        for notification in notifications:
            call = await self.calls.by_call(PLATFORM, notification.call_id)
            if call is None:
                _LOGGER.info("a callback about call %s, which is no bot call of this service: ignored", notification.call_id)
                continue
            async with self._lock(call.session_id):
                call = await self.calls.by_session(call.session_id) or call
                if notification.state is not None:
                    await self._call_state(call, notification.state)
                if notification.roster is not None:
                    await self._roster(call, notification.roster, raw)

    async def _call_state(self, call: BotCall, state: CallState) -> None:
        now = self.services.clock()
        if state.state == "terminated":
            codes = {state.code, state.subcode} - {""}
            failed = bool(codes & (LOBBY_TIMEOUT | JOIN_REFUSED))
            if not await self.calls.set_state(call.session_id, calls_table.FAILED if failed else calls_table.TERMINATED, now, state.result):
                return  # over already (hung up by us, or a repeated notification)
            await self._stop_keep_alive(call.session_id)
            if codes & LOBBY_TIMEOUT:
                _LOGGER.error(
                    "the calling bot of session %s waited too long in the lobby of meeting %s (%s): let the bot bypass the "
                    "lobby (the meeting's lobby setting, or the organiser's meeting policy) for camera tracking",
                    call.session_id, call.meeting_id, state.result,
                )
                await self._give_up(call.session_id, call.therapist_id, "lobby", state.result)
            elif codes & JOIN_REFUSED:
                _LOGGER.error(
                    "Teams refused the calling bot of session %s in meeting %s (%s): grant the app Calls.JoinGroupCall.All "
                    "(admin consent) and an application access policy that covers the organiser",
                    call.session_id, call.meeting_id, state.result,
                )
                await self._give_up(call.session_id, call.therapist_id, "refused", state.result)
            else:
                _LOGGER.info("the call %s of session %s ended (%s)", call.call_id, call.session_id, state.result or "no result")
            return
        if call.over:
            return
        await self.calls.set_state(call.session_id, state.state, now)
        if state.state == "established" and not call.participants_read:
            # People who joined before the bot may never be reported: ask for everyone once.
            self._later(self._read_participants(call), "read the call's participants")

    async def _read_participants(self, call: BotCall) -> None:
        if call.session_id in self._reading or call.call_id is None:
            return
        self._reading.add(call.session_id)
        try:
            path = f"{CALLS_API}/{quote(call.call_id, safe='')}/participants"
            listed = [item async for item in self._graph.pages("list call participants", path)]
            update = RosterUpdate(True, None, participants(listed))
            async with self._lock(call.session_id):
                current = await self.calls.by_session(call.session_id)
                if current is None or current.over or current.participants_read:
                    return
                await self._roster(current, update, {"participants": "read"})
                await self.calls.read_participants_once(call.session_id, self.services.clock())
            _LOGGER.info("read the %d participant(s) of call %s (session %s)", len(update.present), call.call_id, call.session_id)
        finally:
            self._reading.discard(call.session_id)

    async def _roster(self, call: BotCall, update: RosterUpdate, raw: Mapping[str, Any]) -> None:
        """Store the camera changes a roster shows (the bot's own participant, and people in the lobby, left out)."""
        if call.over:
            return
        if update.sequence is not None and call.roster_sequence is not None and update.sequence <= call.roster_sequence:
            _LOGGER.info("a stale roster of call %s (sequence %d after %d): ignored", call.call_id, update.sequence, call.roster_sequence)
            return
        # An application (our own bot, whose app id is [teams] client_id, or any other) has no camera to follow.
        present = [p for p in update.present if not p.application_id and not p.in_lobby]
        tracker, now = self.services.tracker, self.services.clock()
        meeting = call.meeting
        keyed = camera_changes(meeting, now, present, await tracker.store.session_events(meeting), raw, tracker.store.at_rest.data_key)
        if keyed:
            recorded = await tracker.record(meeting, keyed)
            if recorded.session_id is not None:
                self.services.evaluation.submit(recorded.session_id)
                self.services.stored.publish(meeting, [event for _, event in keyed])
            _LOGGER.info("stored %d camera change(s) for session %s", len(keyed), call.session_id)
        if update.sequence is not None:
            await self.calls.advance_sequence(call.session_id, update.sequence, now)
