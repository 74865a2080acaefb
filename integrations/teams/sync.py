"""Keep checklist reminders, and the meeting event subscriptions, in step with therapists' Teams calendars."""
from __future__ import annotations

import logging
from collections import defaultdict

from bot.core.reminders import Appointment, appointments
from bot.core.settings import Settings, Therapist
from bot.timekeeping.timekeeper import Timekeeper
from bot.tracking.tracker import Clock

from .const import CALENDAR_VIEW_PATH, PLATFORM
from .graph import GraphClient, GraphError
from .meetings import PREFER_UTC, TeamsOccurrence, calendar_window, teams_occurrence
from .subscriptions import SubscriptionManager

_LOGGER = logging.getLogger(__name__)


class TeamsMeetingSync:
    """Teams meetings in, reminder rows and subscriptions out; a failed listing leaves both as they were."""

    def __init__(
        self, settings: Settings, graph: GraphClient, timekeeper: Timekeeper, clock: Clock, subscriptions: SubscriptionManager | None = None
    ) -> None:
        self._settings = settings
        self._graph = graph
        self._timekeeper = timekeeper
        self._clock = clock
        self._subscriptions = subscriptions

    async def sync_all(self) -> None:
        """Read every Teams therapist's upcoming meetings and bring their reminders and subscriptions in step."""
        for therapist in self._settings.therapists:
            if not therapist.teams_user_id:
                continue
            try:
                await self.sync_therapist(therapist)
            except GraphError as err:
                _LOGGER.warning("Teams meeting sync for therapist %s failed: %s", therapist.id, err)

    async def upcoming(self, therapist: Therapist) -> list[TeamsOccurrence]:
        """Return the therapist's Teams meeting occurrences from now to the reminder horizon, every page."""
        path = CALENDAR_VIEW_PATH.format(user_id=therapist.teams_user_id)
        window = calendar_window(self._clock(), self._settings.reminders.horizon_hours)
        found = []
        async for event in self._graph.pages("calendarView", path, window, PREFER_UTC):
            occurrence = teams_occurrence(event)
            if occurrence is not None:
                found.append(occurrence)
        return found

    async def sync_therapist(self, therapist: Therapist) -> None:
        """Bring one therapist's reminders (as Zoom's sync does, by meeting key) and subscriptions in step."""
        occurrences = await self.upcoming(therapist)
        by_meeting: dict[str, list[TeamsOccurrence]] = defaultdict(list)
        for o in occurrences:
            by_meeting[o.key].append(o)
        planned: list[Appointment] = []
        for key, found in by_meeting.items():
            planned += appointments(PLATFORM, key, therapist.id, [o.occurrence for o in found])
        await self._timekeeper.keep_reminders(therapist.id, PLATFORM, planned)
        _LOGGER.info("Teams meeting sync for therapist %s: %d occurrence(s) planned", therapist.id, len(planned))
        if self._subscriptions is not None:
            await self._subscriptions.keep(therapist.id, occurrences)
