"""A session as the therapist's session list shows it: the few fields taken from its judged state, kept per session."""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .session import MeetingState
from .settings import Settings
from .timefmt import to_iso

IN_PROGRESS, ENDED = "in_progress", "ended"
_SHOWN_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", re.ASCII)


@dataclass(frozen=True)
class SessionIdentity:
    """What the session's own row says: its id and meeting, whatever its events say."""

    session_id: str
    platform: str
    meeting_id: str
    occurrence_id: str


@dataclass(frozen=True)
class ListedSession:
    """What judging a session gives its list entry: the client's code, whether it ended, and its times as shown."""

    client_code: str | None
    status: str
    started_at: str | None
    ended_at: str | None


def listed(state: MeetingState, client_code: str | None) -> ListedSession:
    """Return the list entry's judged part, as the session's summary says it (bot/core/summary.py)."""
    return ListedSession(client_code, ENDED if state.ended else IN_PROGRESS, to_iso(state.started_at), to_iso(state.ended_at))


def _shown_time(text: Any) -> bool:
    """Return whether `text` is None or a time as `to_iso` writes it (checked without strftime: a listing reads 400)."""
    if text is None:
        return True
    if not (isinstance(text, str) and _SHOWN_TIME.fullmatch(text)):
        return False
    try:
        datetime.fromisoformat(text[:-1])
    except ValueError:  # shaped right, but no such day or hour
        return False
    return True


def readable(client_code: Any, status: Any, started_at: Any, ended_at: Any) -> ListedSession | None:
    """Return a kept entry, or None if its fields are not what `listed` could have made (the session is judged again)."""
    if status not in (IN_PROGRESS, ENDED) or (status == ENDED) != (ended_at is not None):
        return None
    if not (client_code is None or isinstance(client_code, str)) or not (_shown_time(started_at) and _shown_time(ended_at)):
        return None
    return ListedSession(client_code, status, started_at, ended_at)


def listing_json(session: SessionIdentity, entry: ListedSession) -> dict[str, Any]:
    """Return the session as `GET /api/sessions` lists it (the same fields, in the same order, as always)."""
    return {
        "session_id": session.session_id,
        "platform": session.platform,
        "meeting": {"id": session.meeting_id, "uuid": session.occurrence_id, "topic": None},
        "client_code": entry.client_code,
        "status": entry.status,
        "started_at": entry.started_at,
        "ended_at": entry.ended_at,
    }


def profiles_mark(settings: Settings, therapist_id: str) -> str:
    """Return a keyed digest of what decides a therapist's sessions' client codes: their client profiles and own accounts.

    A kept entry judged under another mark may name another client now: it is judged again. Keyed with the
    data key, the mark says nothing about the emails and names it covers.
    """
    therapist = settings.therapist(therapist_id)
    accounts = sorted(therapist.accounts.items()) if therapist else None
    profiles = [
        (p.code, p.meeting_ids, p.emails, p.display_names, p.entra_ids, p.email_digests, p.name_digests)
        for p in settings.clients
        if p.therapist == therapist_id
    ]
    return hmac.new(settings.privacy.data_key.encode(), repr((accounts, profiles)).encode(), hashlib.sha256).hexdigest()
