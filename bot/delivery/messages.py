"""Word each notice as the short message a channel carries, naming the client by their code once it is known."""
from __future__ import annotations

import asyncio
from collections import OrderedDict

from bot.core.clients import client_code
from bot.core.message import AlertMessage, compose, private_name_digests, private_words
from bot.core.settings import Settings
from bot.storage.notices import NoticeRow
from bot.tracking.tracker import SessionTracker


class ClientCodes:
    """Each session's client pseudonym, remembered once known: a matched profile does not change."""

    def __init__(self, tracker: SessionTracker, size: int = 4096) -> None:
        self._tracker = tracker
        self._size = size
        self._known: OrderedDict[str, str] = OrderedDict()
        self._looking: dict[str, asyncio.Future[str | None]] = {}

    async def code(self, session_id: str) -> str | None:
        """Return the client's code in a session, or None while no profile matches."""
        if session_id in self._known:
            self._known.move_to_end(session_id)
            return self._known[session_id]
        if (looking := self._looking.get(session_id)) is None:  # every channel's worker wants it at once: look once
            looking = self._looking[session_id] = asyncio.ensure_future(self._look_up(session_id))
            looking.add_done_callback(lambda _: self._looking.pop(session_id, None))
        code = await asyncio.shield(looking)  # one caller cancelled (a send stopped) leaves the others their answer
        if code is not None:
            self._known[session_id] = code
            if len(self._known) > self._size:
                self._known.popitem(last=False)
        return code

    async def _look_up(self, session_id: str) -> str | None:
        """Return the code judging the session would give: the one kept for it, else the profile listing its meeting.

        Only a session no profile lists by meeting is judged (its client is recognised by email or name).
        """
        tracker = self._tracker
        if (kept := await tracker.session_clients.code(session_id)) is not None:
            return kept
        row = await tracker.store.session(session_id)
        if row is None:
            return None
        settings = await tracker.clients.settings()
        therapist = settings.therapist(row.therapist_id)
        if therapist is None:  # judged with the host alone: no client is recognised
            return None
        return client_code(settings, therapist, row.meeting, set(), set()) or (await tracker.view(row)).client_code


class MessageWriter:
    """Turn stored notices into channel messages: pseudonym only, names scrubbed, a link for detail."""

    def __init__(self, settings: Settings, tracker: SessionTracker) -> None:
        self._settings = settings
        self._tracker = tracker
        self._codes = ClientCodes(tracker)
        # What no message may carry, per therapist, worked out once for each version of the profiles.
        self._profiles: Settings | None = None
        self._private: dict[str, tuple[list[str], frozenset[str]]] = {}

    async def message_for(self, notice: NoticeRow) -> AlertMessage:
        """Return the message every channel sends for `notice`."""
        code = await self._codes.code(notice.session_id) if notice.session_id else None
        words, digests = self._private_to(await self._tracker.clients.settings(), notice.therapist_id)
        return compose(
            notice.id, notice.kind, notice.session_id, notice.message, code, self._settings.server.public_url, words, notice.key, digests,
            self._settings.privacy.data_key,
        )

    def _private_to(self, clients: Settings, therapist_id: str) -> tuple[list[str], frozenset[str]]:
        """Return the names and emails, and the name digests, of a therapist's clients (the settings file's and the database's)."""
        if clients is not self._profiles:  # the profiles were read again: work them out afresh
            self._profiles, self._private = clients, {}
        if therapist_id not in self._private:
            self._private[therapist_id] = private_words(clients, therapist_id), private_name_digests(clients, therapist_id)
        return self._private[therapist_id]
