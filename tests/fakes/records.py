"""Whole sessions written straight to the store, each with a row in every table a session has, on a controlled clock."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core import events as ev
from bot.core.due_work import VIDEO_OFF_CHECK, DueWork
from bot.storage import schema
from bot.storage.bot_calls import BotCallStore
from bot.storage.due_store import DueStore
from bot.storage.session_clients import SessionClients
from bot.storage.store import Store, session_id_for
from bot.storage.ticks import TickStore
from tests.conftest import THERAPIST_A_HOST, THERAPIST_B_HOST, storage_keys

# What the sessions below say about people: none of it may outlive the session, nor reach a log.
CLIENT_NAME, CLIENT_EMAIL, VISITOR_NAME = "Jonah Keeler", "jonah.keeler@example.org", "Priya Ollerton"
NOTE = "Client said he keeps the laptop in the bedroom"
# Each session has one row in each of these (deliveries: one channel), plus its events.
SESSION_TABLES = ("sessions", "notes", "notices", "deliveries", "checklist_ticks", "due_work", "session_clients", "bot_calls")
EVENTS_PER_SESSION = 4  # started, the therapist joined, the client joined, and the end (or the watchdog's close)


def store_with_deliveries(engine: AsyncEngine) -> Store:
    """Return a store that writes a dashboard delivery for each notice, as the service's does."""
    return Store(engine, storage_keys(), lambda _therapist_id, _kind: ("dashboard",))


@dataclass(frozen=True)
class StoredSession:
    id: str
    meeting: ev.MeetingRef


async def store_session(
    store: Store, name: str, start: datetime, end: datetime | None, *, closed: bool = False, therapist_id: str = "t1",
    meeting_id: str = "85746065432", code: str | None = "C-17", client_name: str = CLIENT_NAME, client_email: str = CLIENT_EMAIL, note: str = NOTE,
) -> StoredSession:
    """Store a session that started at `start` and ended at `end` (None: still live; `closed`: the watchdog closed it).

    It gets the events of a therapist and a named client with an email, a note, a notice with its
    delivery, a checklist tick, a due video-off check, a calling bot's call and a kept client code.
    """
    meeting = ev.MeetingRef("zoom", f"occ-{name}==", meeting_id, THERAPIST_A_HOST if therapist_id == "t1" else THERAPIST_B_HOST)
    therapist = ev.ParticipantRef(user_id=f"1{name}", stable_id=f"T-{name}", account_id=meeting.host_id, name="Dr Example")
    client = ev.ParticipantRef(user_id=f"2{name}", stable_id=f"P-{name}", name=client_name, email=client_email)
    events: list[tuple[str, ev.MeetingEvent]] = [
        (f"{name}:start", ev.MeetingStarted(meeting, start)),
        (f"{name}:t", ev.ParticipantJoined(meeting, start, participant=therapist)),
        (f"{name}:c", ev.ParticipantJoined(meeting, start + timedelta(minutes=1), participant=client)),
    ]
    if end is not None:
        last = ev.SessionClosed(meeting, end, reason="watchdog") if closed else ev.MeetingEnded(meeting, end)
        events.append((f"{name}:end", last))
    await store.record_events(therapist_id, meeting, events, end or start)
    session_id = session_id_for(meeting.platform, meeting.occurrence_id)
    await store.add_note(session_id, start + timedelta(minutes=5), note, None)
    await store.raise_notice(therapist_id, session_id, "recording_started", f"{session_id}:rec", start, "Someone started recording.", start)
    await TickStore(store.engine).tick(session_id, "dressed", start)
    await DueStore(store).put(DueWork(f"{VIDEO_OFF_CHECK}:{session_id}", VIDEO_OFF_CHECK, start, therapist_id, session_id), start)
    await BotCallStore(store.engine).claim(session_id, therapist_id, meeting, start, timedelta(minutes=1))
    if code:
        await SessionClients(store.engine).keep(therapist_id, {session_id: code})
    return StoredSession(session_id, meeting)


async def row_counts(engine: AsyncEngine) -> Counter[str]:
    """Return how many rows each table holds."""
    async with engine.connect() as conn:
        counts = {t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one() for t in schema.metadata.sorted_tables}
    return +Counter(counts)


async def every_row(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Return every row of every table, as text, for a scan."""
    async with engine.connect() as conn:
        return {t.name: [dict(r._mapping) for r in (await conn.execute(select(t))).all()] for t in schema.metadata.sorted_tables}
