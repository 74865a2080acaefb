"""Forget one client: every row of their sessions, their appointments, and their profile with its digests."""
from __future__ import annotations

import json
from typing import Collection, Sequence

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.due_work import CHECKLIST_REMINDER

from . import schema
from .retention import Removal, SessionKey, apply, appointment_clauses, session_clauses, writing


def _meeting_of(data: str) -> str | None:
    """Return the meeting id a checklist reminder's data names, or None if it cannot be read."""
    try:
        value = json.loads(data)
        return str(value["meeting_id"]) if isinstance(value, dict) and "meeting_id" in value else None
    except ValueError:
        return None


async def forget_client(
    engine: AsyncEngine, therapist_id: str, code: str, sessions: Sequence[SessionKey], meeting_ids: Collection[str]
) -> Removal:
    """Delete, in one transaction, the client's sessions, the appointments of their meetings, their profile and links."""
    w, p, m, c = schema.due_work, schema.client_profiles, schema.client_meetings, schema.session_clients
    listed = schema.session_listing
    async with writing(engine) as conn:
        query = select(w.c.id, w.c.key, w.c.data).where(w.c.kind == CHECKLIST_REMINDER, w.c.therapist_id == therapist_id)
        reminders = [r for r in (await conn.execute(query)).all() if _meeting_of(r.data) in meeting_ids]
        clauses = session_clauses(sessions) + appointment_clauses([r.id for r in reminders], [r.key for r in reminders])
        clauses += [
            (m, and_(m.c.therapist_id == therapist_id, m.c.code == code)),
            (p, and_(p.c.therapist_id == therapist_id, p.c.code == code)),
            (c, and_(c.c.therapist_id == therapist_id, c.c.code == code)),  # a session kept under the code, whatever became of it
            (listed, and_(listed.c.therapist_id == therapist_id, listed.c.client_code == code)),  # a list row judged so once
        ]
        return Removal(await apply(conn, clauses), sorted(s.id for s in sessions))
