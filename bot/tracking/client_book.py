"""The client profiles in force: the settings file's and the database's, merged, and every change to them."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import datetime
from typing import Awaitable, Callable

from bot.core.settings import ClientProfile, Settings
from bot.storage.client_profiles import ClientRecords, MeetingTaken, NoSuchClient, StoredClients

_LOGGER = logging.getLogger(__name__)
FRESH_SECONDS = 5.0  # older than this, the profiles are read again: another instance may have changed them


class ClientConflict(Exception):
    """A change the settings file's profiles forbid, or a meeting another client has; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def merged(settings: Settings, stored: StoredClients) -> tuple[tuple[ClientProfile, ...], set[tuple[str, str]]]:
    """Return the settings file's profiles, then the database's, and the (therapist, code) of each database profile left out.

    The settings file wins every clash: a meeting linked in the database joins the profile it names
    unless a settings-file profile of the therapist lists that meeting itself, and a database
    profile whose code the settings file uses is left out.
    """
    in_file = {(c.therapist, m) for c in settings.clients for m in c.zoom_meeting_ids}
    codes = {(c.therapist, c.code) for c in settings.clients}

    def linked(profile: ClientProfile) -> tuple[str, ...]:
        ids = stored.links.get((profile.therapist, profile.code), ())
        return tuple(m for m in ids if (profile.therapist, m) not in in_file)

    clients = [dataclasses.replace(c, linked_meeting_ids=linked(c)) for c in settings.clients]
    clients += [dataclasses.replace(p, linked_meeting_ids=linked(p)) for p in stored.profiles if (p.therapist, p.code) not in codes]
    return tuple(clients), {(p.therapist, p.code) for p in stored.profiles if (p.therapist, p.code) in codes}


def _taken(meeting_id: str, code: str) -> str:
    return f"meeting {meeting_id} is client {code}'s: say so on its appointment to move it"


class ClientBook:
    """Every client profile, read from the database at first use, after each change made here, and when stale."""

    def __init__(
        self,
        settings: Settings,
        records: ClientRecords,
        clock: Callable[[], datetime],
        before_change: Callable[[str, str], Awaitable[None]],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._file = settings
        self._records = records
        self._clock = clock
        # Called with (therapist id, code) before a profile changes: the sessions it names keep their code.
        self._before_change = before_change
        self._monotonic = monotonic
        self._settings = settings
        self._read_at: float | None = None
        self._left_out: set[tuple[str, str]] = set()  # said once in the log, not at every reading
        self._lock = asyncio.Lock()

    async def settings(self) -> Settings:
        """Return the settings with every client profile in force, both sources."""
        if self._stale():
            async with self._lock:
                if self._stale():  # not already read again by a caller that held the lock
                    await self._read()
        return self._settings

    async def reload(self) -> None:
        """Read the database's profiles again."""
        async with self._lock:
            await self._read()

    def _stale(self) -> bool:
        return self._read_at is None or self._monotonic() - self._read_at > FRESH_SECONDS

    async def _read(self) -> None:
        started = self._monotonic()
        clients, left_out = merged(self._file, await self._records.load())
        for therapist_id, code in sorted(left_out - self._left_out):
            _LOGGER.warning("client %s of therapist %s is in the settings file too: the database's profile is left out", code, therapist_id)
        self._settings, self._read_at, self._left_out = dataclasses.replace(self._file, clients=clients), started, left_out

    def in_settings_file(self, therapist_id: str, code: str) -> bool:
        """Return whether the settings file keeps this client (such a profile cannot be changed here)."""
        return any(c.therapist == therapist_id and c.code == code for c in self._file.clients)

    async def profile(self, therapist_id: str, code: str) -> ClientProfile | None:
        """Return the therapist's client with this code, from either source."""
        return next((c for c in (await self.settings()).clients if c.therapist == therapist_id and c.code == code), None)

    async def add(self, profile: ClientProfile) -> None:
        """Keep a new database profile; raise ClientConflict, or ClientTaken from the store."""
        await self._check(profile)
        await self._change(self._records.add(profile, self._clock()))

    async def change(self, profile: ClientProfile) -> None:
        """Replace a database profile; raise ClientConflict, or NoSuchClient from the store."""
        await self._check(profile)
        await self._before_change(profile.therapist, profile.code)
        await self._change(self._records.change(profile, self._clock()))

    async def remove(self, therapist_id: str, code: str) -> None:
        """Forget a database profile; the sessions it named keep its code. Raise ClientConflict or NoSuchClient."""
        if self.in_settings_file(therapist_id, code):
            raise ClientConflict(f"client {code} is kept in the settings file: remove it there")
        await self._before_change(therapist_id, code)
        await self._change(self._records.remove(therapist_id, code))

    async def assign(self, therapist_id: str, meeting_id: str, code: str | None) -> str | None:
        """Say which client a meeting is (None: none); return the client it named before, if another.

        The sessions the meeting named keep their code. Raise NoSuchClient for an unknown code, and
        ClientConflict when the settings file names the meeting's client.
        """
        if code is not None and await self.profile(therapist_id, code) is None:
            raise NoSuchClient(code)
        owner = next((c for c in self._file.clients if c.therapist == therapist_id and meeting_id in c.zoom_meeting_ids), None)
        if owner is not None and owner.code != code:
            raise ClientConflict(f"the settings file says this meeting is client {owner.code}: change it there")
        if owner is not None:
            return None
        current = next((c for c in (await self.settings()).clients if c.therapist == therapist_id and meeting_id in c.meeting_ids), None)
        if current is not None and current.code != code:
            await self._before_change(therapist_id, current.code)
        return await self._change(self._records.link(therapist_id, meeting_id, code))

    async def _check(self, profile: ClientProfile) -> None:
        """Refuse a profile the settings file forbids, or one naming another client's meeting, before anything is kept."""
        if self.in_settings_file(profile.therapist, profile.code):
            raise ClientConflict(f"client {profile.code} is kept in the settings file, which wins: edit it there")
        in_file = {m: c.code for c in self._file.clients if c.therapist == profile.therapist for m in c.zoom_meeting_ids}
        for meeting_id in profile.linked_meeting_ids:
            if meeting_id in in_file:
                raise ClientConflict(f"the settings file says meeting {meeting_id} is client {in_file[meeting_id]}")
        others = (await self.settings()).clients
        for other in others:
            taken = set(profile.linked_meeting_ids) & set(other.meeting_ids)
            if other.therapist == profile.therapist and other.code != profile.code and taken:
                raise ClientConflict(_taken(min(taken), other.code))

    async def _change(self, change: Awaitable[str | None]) -> str | None:
        try:
            return await change
        except MeetingTaken as taken:
            raise ClientConflict(_taken(taken.meeting_id, taken.code)) from None
        finally:
            await self.reload()
