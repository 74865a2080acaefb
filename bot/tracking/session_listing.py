"""Keep each session's entry in the therapist's session list at every judging, and list the sessions from those entries."""
from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime
from typing import Any

from bot.core.listing import ListedSession, SessionIdentity, listed, listing_json, profiles_mark
from bot.core.settings import Settings
from bot.storage.judging_writes import JudgingWrites
from bot.storage.session_list import SessionList
from bot.storage.store import SessionRow

from .session_folds import MAX_FOLDS
from .tracker import SessionTracker, SessionView

_LOGGER = logging.getLogger(__name__)
UNREADABLE = "unreadable"
UNREADABLE_REASON = "this session's stored events cannot be judged; its other data and other sessions are kept"
# Entries remembered as written, the least recently judged dropped first: one for each session kept folded.
MAX_WRITTEN = MAX_FOLDS


async def judged(tracker: SessionTracker, row: SessionRow, names: bool = False, now: datetime | None = None) -> SessionView | None:
    """Return the session judged now (or at `now`), or None if its stored rows cannot be judged (logged by id only)."""
    try:
        return await tracker.view(row, now, names=names)
    except Exception as err:  # one session that cannot be judged must not hide the others
        _LOGGER.error("session %s cannot be judged (%s)", row.id, type(err).__name__)
        return None


def unreadable(row: SessionRow) -> dict[str, Any]:
    """Return the list entry of a session whose stored rows cannot be judged."""
    return {"session_id": row.id, "platform": row.platform, "status": UNREADABLE, "reason": UNREADABLE_REASON}


def identity(row: SessionRow) -> SessionIdentity:
    """Return what the session's own row says of it, whatever its events say."""
    return SessionIdentity(row.id, row.platform, row.meeting_id, row.occurrence_id)


class SessionListing:
    """The session list from the rows kept at each judging; a session without a usable row is judged now, and kept."""

    def __init__(self, tracker: SessionTracker) -> None:
        self._tracker = tracker
        self._rows = SessionList(tracker.store.engine)
        self._marks: tuple[Settings | None, dict[str, str]] = (None, {})  # the profiles' mark by therapist, for one reading
        # What this process last wrote for each session, by session id: (the session row's creation, entry, mark).
        self._written: OrderedDict[str, tuple[str, ListedSession, str]] = OrderedDict()
        # On PostgreSQL another instance may write the row in between: it is written at each judging (the upsert
        # itself changes nothing when the entry is the same).
        self._memo = tracker.store.engine.dialect.name != "postgresql"

    async def keep(self, view: SessionView, now: datetime, writes: JudgingWrites) -> None:
        """Keep the session's entry as just judged, with the judging's writes (the tracker calls it at every evaluation);
        one written already is not written again."""
        # The view does not say which profiles it was judged under: those in force now are taken (a profile changed
        # during this very evaluation leaves the entry as judged until the session's next evaluation).
        row = view.row
        entry = listed(view.state, view.client_code)
        written = (row.created_at, entry, await self._mark(row.therapist_id))
        if self._written.get(row.id) == written:  # the row holds it already: the upsert would change nothing
            self._written.move_to_end(row.id)
            return
        writes.listings.append((row, entry, written[2], now))
        if self._memo:
            writes.after.append(lambda _: self._remember(row.id, written))

    def _remember(self, session_id: str, written: tuple[str, ListedSession, str]) -> None:
        """Remember the entry as written (once it is committed)."""
        self._written[session_id] = written
        self._written.move_to_end(session_id)
        while len(self._written) > MAX_WRITTEN:
            self._written.popitem(last=False)

    async def listing(self, therapist_id: str, platform: str | None, occurrence_id: str | None, limit: int) -> list[dict[str, Any]]:
        """Return the therapist's sessions as `GET /api/sessions` lists them, newest first."""
        # The mark is taken before any judging: an entry judged now is never kept under a newer profile's mark.
        mark = profiles_mark(await self._tracker.clients.settings(), therapist_id)
        answer = []
        for found in await self._rows.rows(therapist_id, platform, occurrence_id, limit):
            entry = found.entry if found.profiles == mark else None
            if entry is None:  # stored before this version, not judged yet, judged under other profiles, or unreadable
                now = self._tracker.clock()
                view = await judged(self._tracker, found.session, now=now)
                if view is None:
                    answer.append(unreadable(found.session))
                    continue
                entry = listed(view.state, view.client_code)
                await self._rows.keep(found.session, entry, mark, now)
            answer.append(listing_json(identity(found.session), entry))
        return answer

    async def _mark(self, therapist_id: str) -> str:
        """Return the mark of the therapist's profiles in force now, worked out once for each reading of them."""
        settings = await self._tracker.clients.settings()
        if self._marks[0] is not settings:
            self._marks = (settings, {})
        marks = self._marks[1]
        if therapist_id not in marks:
            marks[therapist_id] = profiles_mark(settings, therapist_id)
        return marks[therapist_id]
