"""Keep the therapist's client profiles in the database, and which client each of their meetings is."""
from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator, Mapping

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.client_form import normal_code
from bot.core.settings import CLIENT_MODES, DATABASE, ClientProfile
from bot.core.timefmt import to_stamp

from . import schema

_LOGGER = logging.getLogger(__name__)
WRITE_LOCK_KEY = 0x53435F434C  # "SC_CL": one change to the client profiles at a time, across instances


class ClientTaken(Exception):
    """The therapist already has a client with this code."""


class NoSuchClient(Exception):
    """The therapist has no client with this code in the database."""


class MeetingTaken(Exception):
    """A meeting id given for a client already names another of the therapist's clients."""

    def __init__(self, meeting_id: str, code: str) -> None:
        super().__init__(meeting_id, code)
        self.meeting_id, self.code = meeting_id, code


@dataclass(frozen=True)
class StoredClients:
    """Everything the database says about clients, for every therapist."""

    profiles: tuple[ClientProfile, ...]  # the database's profiles, each with its linked meetings
    links: Mapping[tuple[str, str], tuple[str, ...]]  # (therapist id, code): meeting ids, whichever source the code is


def _strings(raw: str) -> tuple[str, ...]:
    value = json.loads(raw)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("not a list of strings")
    return tuple(value)


def _profile(row: Any, links: Mapping[tuple[str, str], tuple[str, ...]]) -> ClientProfile | None:
    """Return a stored profile, or None (logged by row id) for a row that cannot be one: it must not break the others."""
    try:
        if not row.therapist_id or normal_code(row.code) != row.code or row.mode not in CLIENT_MODES:
            raise ValueError("not a profile")
        return ClientProfile(
            code=row.code, therapist=row.therapist_id, mode=row.mode, flags=_strings(row.flags),
            linked_meeting_ids=links.get((row.therapist_id, row.code), ()), email_digests=_strings(row.email_digests),
            name_digests=_strings(row.name_digests), source=DATABASE,
        )
    except (ValueError, TypeError, RecursionError):
        _LOGGER.warning("stored client profile %s cannot be read: left out", row.id)
        return None


class ClientRecords:
    """Client profiles and meeting links; a change waits for any other instance's to finish."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self) -> StoredClients:
        """Return every readable profile and meeting link."""
        p, m = schema.client_profiles, schema.client_meetings
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(p).order_by(p.c.therapist_id, p.c.code))).all()
            meetings = (await conn.execute(select(m).order_by(m.c.id))).all()
        links: dict[tuple[str, str], tuple[str, ...]] = {}
        for link in meetings:
            if link.meeting_id:
                links[(link.therapist_id, link.code)] = (*links.get((link.therapist_id, link.code), ()), link.meeting_id)
        profiles = tuple(profile for row in rows if (profile := _profile(row, links)) is not None)
        return StoredClients(profiles, links)

    async def add(self, profile: ClientProfile, now: datetime) -> None:
        """Keep a new profile and its meetings; raise ClientTaken or MeetingTaken, keeping nothing."""
        async with self._writing() as conn:
            if await self._row_id(conn, profile.therapist, profile.code) is not None:
                raise ClientTaken(profile.code)
            await self._link_all(conn, profile)
            await conn.execute(schema.client_profiles.insert().values(therapist_id=profile.therapist, **self._values(profile, now)))

    async def change(self, profile: ClientProfile, now: datetime) -> None:
        """Replace a kept profile and its meetings; raise NoSuchClient or MeetingTaken, changing nothing."""
        p = schema.client_profiles
        async with self._writing() as conn:
            row_id = await self._row_id(conn, profile.therapist, profile.code)
            if row_id is None:
                raise NoSuchClient(profile.code)
            await self._link_all(conn, profile)
            await conn.execute(update(p).where(p.c.id == row_id).values(**self._values(profile, now)))

    async def remove(self, therapist_id: str, code: str) -> None:
        """Forget a kept profile and its meetings; raise NoSuchClient if there is none."""
        p, m = schema.client_profiles, schema.client_meetings
        async with self._writing() as conn:
            row_id = await self._row_id(conn, therapist_id, code)
            if row_id is None:
                raise NoSuchClient(code)
            await conn.execute(delete(m).where(m.c.therapist_id == therapist_id, m.c.code == code))
            await conn.execute(delete(p).where(p.c.id == row_id))

    async def link(self, therapist_id: str, meeting_id: str, code: str | None) -> str | None:
        """Say the meeting is client `code`'s (None: no one's); return the code it named before, if another."""
        m = schema.client_meetings
        async with self._writing() as conn:
            query = select(m.c.code).where(m.c.therapist_id == therapist_id, m.c.meeting_id == meeting_id)
            before = (await conn.execute(query)).scalar()
            if before == code:
                return None
            await conn.execute(delete(m).where(m.c.therapist_id == therapist_id, m.c.meeting_id == meeting_id))
            if code is not None:
                await conn.execute(m.insert().values(therapist_id=therapist_id, meeting_id=meeting_id, code=code))
            return before

    @staticmethod
    def _values(profile: ClientProfile, now: datetime) -> dict[str, str]:
        return dict(
            code=profile.code, mode=profile.mode, flags=json.dumps(list(profile.flags)),
            email_digests=json.dumps(list(profile.email_digests)), name_digests=json.dumps(list(profile.name_digests)),
            updated_at=to_stamp(now),
        )

    @staticmethod
    async def _row_id(conn: AsyncConnection, therapist_id: str, code: str) -> int | None:
        p = schema.client_profiles
        return (await conn.execute(select(p.c.id).where(p.c.therapist_id == therapist_id, p.c.code == code))).scalar()

    @staticmethod
    async def _link_all(conn: AsyncConnection, profile: ClientProfile) -> None:
        """Make the profile's meetings exactly `linked_meeting_ids`; raise MeetingTaken for one another client has."""
        m = schema.client_meetings
        query = select(m.c.meeting_id, m.c.code).where(m.c.therapist_id == profile.therapist, m.c.meeting_id.in_(profile.linked_meeting_ids))
        for taken in (await conn.execute(query)).all():
            if taken.code != profile.code:
                raise MeetingTaken(taken.meeting_id, taken.code)
        await conn.execute(delete(m).where(m.c.therapist_id == profile.therapist, m.c.code == profile.code))
        rows = [dict(therapist_id=profile.therapist, meeting_id=meeting_id, code=profile.code) for meeting_id in profile.linked_meeting_ids]
        if rows:
            await conn.execute(m.insert(), rows)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """Yield a connection in a transaction no other change to the client profiles runs beside; commit at the end."""
        async with self._engine.connect() as conn:
            if self._engine.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
            else:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn
            await conn.commit()
