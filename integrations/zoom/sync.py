"""Keep checklist reminders in step with therapists' Zoom meetings: a periodic sync and the plan webhooks."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping, Sequence

from bot.core import events as ev
from bot.core.clients import therapist_for_meeting
from bot.core.reminders import Appointment, appointments
from bot.core.settings import Settings, Therapist
from bot.core.timefmt import from_iso, to_iso
from bot.timekeeping.timekeeper import Timekeeper

from .client import ZoomApi, ZoomApiError
from .const import PLATFORM
from .meetings import RECURRING, meeting_type, occurrences

_LOGGER = logging.getLogger(__name__)


class MeetingSync:
    """Zoom meetings in, reminder rows out; a failed listing leaves the reminders as they were."""

    def __init__(self, settings: Settings, api: ZoomApi, timekeeper: Timekeeper) -> None:
        self._settings = settings
        self._api = api
        self._timekeeper = timekeeper
        self._tasks: set[asyncio.Task[None]] = set()

    async def sync_all(self) -> None:
        """List every therapist's upcoming meetings and bring their reminders in step."""
        if not self._api.configured:
            return
        for therapist in self._settings.therapists:
            if not therapist.zoom_user_id:
                continue
            try:
                await self.sync_therapist(therapist)
            except ZoomApiError as err:
                _LOGGER.warning("meeting sync for therapist %s failed: %s", therapist.id, err)

    async def sync_therapist(self, therapist: Therapist) -> None:
        """Bring one therapist's reminders in step with their upcoming Zoom meetings."""
        planned: list[Appointment] = []
        for meeting in await self._api.upcoming_meetings(therapist.zoom_user_id):
            planned += await self._appointments(therapist.id, meeting)
        await self._timekeeper.keep_reminders(therapist.id, PLATFORM, planned)
        _LOGGER.info("meeting sync for therapist %s: %d occurrence(s) planned", therapist.id, len(planned))

    async def _appointments(self, therapist_id: str, meeting: Mapping[str, Any]) -> list[Appointment]:
        if meeting_type(meeting) == RECURRING and not meeting.get("occurrences"):  # the listing shows one occurrence
            meeting = await self._api.meeting(str(meeting.get("id", "")))
        return appointments(PLATFORM, str(meeting.get("id", "")), therapist_id, occurrences(meeting))

    async def apply(self, changes: Sequence[ev.SchedulingEvent]) -> None:
        """Apply plan webhooks at once; a change that does not say the whole plan asks the API in the background."""
        for change in changes:
            meeting = change.meeting
            if isinstance(change, ev.MeetingCancelled):
                starts = {to_iso(from_iso(o.start)) or "" for o in change.occurrences} or None
                await self._timekeeper.cancel_reminders(PLATFORM, meeting.meeting_id, starts)
                continue
            if not isinstance(change, ev.MeetingScheduled):
                continue
            therapist_id = await self._owner(meeting)
            if therapist_id is None:
                _LOGGER.info("meeting %s is not a configured therapist's: no reminders", meeting.meeting_id)
            elif change.complete:
                planned = appointments(PLATFORM, meeting.meeting_id, therapist_id, change.occurrences)
                await self._timekeeper.keep_reminders(therapist_id, PLATFORM, planned, {meeting.meeting_id})
            elif self._api.configured:
                self._start(self._refresh(therapist_id, meeting.meeting_id))
            else:
                _LOGGER.warning("meeting %s changed but the Zoom API is not configured to read its plan", meeting.meeting_id)

    async def _owner(self, meeting: ev.MeetingRef) -> str | None:
        therapist = therapist_for_meeting(self._settings, meeting)
        if therapist is not None:
            return therapist.id
        rows = await self._timekeeper.meeting_reminders(PLATFORM, meeting.meeting_id)
        return rows[0].work.therapist_id if rows else None

    async def _refresh(self, therapist_id: str, meeting_id: str) -> None:
        try:
            planned = appointments(PLATFORM, meeting_id, therapist_id, occurrences(await self._api.meeting(meeting_id)))
        except ZoomApiError as err:
            _LOGGER.warning("reading meeting %s failed: %s", meeting_id, err)
            return
        await self._timekeeper.keep_reminders(therapist_id, PLATFORM, planned, {meeting_id})

    def _start(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the background refreshes started so far."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop the background refreshes."""
        for task in self._tasks:
            task.cancel()
        await self.drain()

