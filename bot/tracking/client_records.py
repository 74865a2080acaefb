"""One client's whole record, found by their code: to export it, or to forget it."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.core.settings import Settings
from bot.storage.forget import forget_client
from bot.storage.retention import Removal, SessionKey
from bot.storage.store import SessionRow

from .tracker import SessionTracker, SessionView

_LOGGER = logging.getLogger(__name__)


class UnknownClient(Exception):
    """No profile and no session has this code (of this therapist, if one was named)."""


class AmbiguousClient(Exception):
    """More than one therapist has a client with this code; `therapists` says whose."""

    def __init__(self, therapists: list[str]) -> None:
        super().__init__(", ".join(therapists))
        self.therapists = therapists


@dataclass
class ClientSessions:
    """A client's sessions, oldest first: judged, and those kept under the code that cannot be judged."""

    therapist_id: str
    code: str
    views: list[SessionView] = field(default_factory=list)
    unjudged: list[SessionRow] = field(default_factory=list)  # kept under the code: forgotten, but not in an export
    unreadable: int = 0  # other sessions that cannot be judged, so cannot be said to be the client's or not


def owner(settings: Settings, kept: dict[str, set[str]], code: str, therapist_id: str | None) -> str:
    """Return the therapist whose client `code` is (named by a profile, or kept by a session); raise if none or several."""
    owners = {c.therapist for c in settings.clients if c.code == code} | kept.get(code, set())
    if therapist_id is not None:
        owners &= {therapist_id}
    if not owners:
        raise UnknownClient(code)
    if len(owners) > 1:
        raise AmbiguousClient(sorted(owners))
    return owners.pop()


class ClientRecords:
    """Find a client's sessions, and forget everything about the client."""

    def __init__(self, tracker: SessionTracker) -> None:
        self._tracker = tracker

    async def find(self, code: str, therapist_id: str | None = None) -> ClientSessions:
        """Return the client's sessions: each of the therapist's sessions judged, kept if its client is `code`."""
        tracker = self._tracker
        settings = await tracker.clients.settings()
        therapist = owner(settings, await tracker.session_clients.codes(), code, therapist_id)
        found = ClientSessions(therapist, code)
        for row in reversed(await tracker.store.sessions(therapist)):
            try:
                view = await tracker.view(row)
            except Exception as err:  # one session that cannot be judged must not stop the others
                _LOGGER.warning("session %s cannot be judged (%s)", row.id, type(err).__name__)
                if await tracker.session_clients.code(row.id) == code:
                    found.unjudged.append(row)
                else:
                    found.unreadable += 1
                continue
            if view.summary["client_code"] == code:
                found.views.append(view)
        return found

    async def forget(self, found: ClientSessions) -> Removal:
        """Delete every row about the client: their sessions, their meetings' appointments, their profile and its digests."""
        settings = await self._tracker.clients.settings()
        profile = next((c for c in settings.clients if c.therapist == found.therapist_id and c.code == found.code), None)
        rows = [view.row for view in found.views] + found.unjudged
        sessions = [SessionKey(r.id, r.platform, r.occurrence_id) for r in rows]
        meetings = set(profile.meeting_ids) if profile else set()
        removal = await forget_client(self._tracker.store.engine, found.therapist_id, found.code, sessions, meetings)
        await self._tracker.clients.reload()
        return removal
