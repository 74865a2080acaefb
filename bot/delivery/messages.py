"""Word each notice as the short message a channel carries, naming the client by their code once it is known."""
from __future__ import annotations

from collections import OrderedDict

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

    async def code(self, session_id: str) -> str | None:
        """Return the client's code in a session, or None while no profile matches."""
        if session_id in self._known:
            self._known.move_to_end(session_id)
            return self._known[session_id]
        row = await self._tracker.store.session(session_id)
        code = (await self._tracker.view(row)).summary["client_code"] if row is not None else None
        if code is not None:
            self._known[session_id] = code
            if len(self._known) > self._size:
                self._known.popitem(last=False)
        return code


class MessageWriter:
    """Turn stored notices into channel messages: pseudonym only, names scrubbed, a link for detail."""

    def __init__(self, settings: Settings, tracker: SessionTracker) -> None:
        self._settings = settings
        self._tracker = tracker
        self._codes = ClientCodes(tracker)

    async def message_for(self, notice: NoticeRow) -> AlertMessage:
        """Return the message every channel sends for `notice`."""
        code = await self._codes.code(notice.session_id) if notice.session_id else None
        clients = await self._tracker.clients.settings()  # the settings file's profiles and the database's
        words, digests = private_words(clients, notice.therapist_id), private_name_digests(clients, notice.therapist_id)
        return compose(
            notice.id, notice.kind, notice.session_id, notice.message, code, self._settings.server.public_url, words, notice.key, digests,
            self._settings.privacy.data_key,
        )
