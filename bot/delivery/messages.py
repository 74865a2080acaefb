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
    """Each session's client pseudonym, remembered once known: a matched profile does not change.

    Sessions asked for at once (a claimed batch, on every channel) are looked up together, in one query.
    """

    def __init__(self, tracker: SessionTracker, size: int = 4096) -> None:
        self._tracker = tracker
        self._size = size
        self._known: OrderedDict[str, str] = OrderedDict()
        self._looking: dict[str, asyncio.Future[str | None]] = {}
        self._batch: list[str] = []
        self._lookups: set[asyncio.Task[None]] = set()

    async def code(self, session_id: str) -> str | None:
        """Return the client's code in a session, or None while no profile matches."""
        if session_id in self._known:
            self._known.move_to_end(session_id)
            return self._known[session_id]
        if (looking := self._looking.get(session_id)) is None:
            looking = self._looking[session_id] = asyncio.get_running_loop().create_future()
            if not self._batch:  # runs once every caller of this step has asked; kept, or it could be collected
                self._lookups.add(task := asyncio.create_task(self._look_up(), name="client-codes"))
                task.add_done_callback(self._lookups.discard)
            self._batch.append(session_id)
        return await asyncio.shield(looking)  # one caller cancelled (a send stopped) leaves the others their answer

    async def _look_up(self) -> None:
        batch, self._batch = self._batch, []
        try:
            found = await self._codes(batch)
        except Exception as err:  # the database is away: every caller's delivery is retried
            for session_id in batch:
                self._looking.pop(session_id).set_exception(err)
            return
        for session_id in batch:
            if (code := found.get(session_id)) is not None:
                self._known[session_id] = code
                if len(self._known) > self._size:
                    self._known.popitem(last=False)
            self._looking.pop(session_id).set_result(code)

    async def _codes(self, session_ids: list[str]) -> dict[str, str | None]:
        """Return the code judging each session would give: the one kept for it, else the profile listing its meeting.

        Only a session no profile lists by meeting is judged (its client is recognised by email or name).
        """
        tracker = self._tracker
        settings = await tracker.clients.settings()
        found: dict[str, str | None] = {}
        for session_id, (row, kept) in (await tracker.session_clients.with_sessions(session_ids)).items():
            therapist = settings.therapist(row.therapist_id)
            if kept is not None or therapist is None:  # no therapist: judged with the host alone, no client recognised
                found[session_id] = kept
            else:
                found[session_id] = client_code(settings, therapist, row.meeting, set(), set()) or (await tracker.view(row)).client_code
        return found


class MessageWriter:
    """Turn stored notices into channel messages: pseudonym only, names scrubbed, a link for detail."""

    def __init__(self, settings: Settings, tracker: SessionTracker, kept: int = 256) -> None:
        self._settings = settings
        self._tracker = tracker
        self._codes = ClientCodes(tracker)
        # What no message may carry, per therapist, worked out once for each version of the profiles.
        self._profiles: Settings | None = None
        self._private: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {}
        # The latest notices' messages, each with the code and profiles it was worded under: every channel sends the same.
        self._kept = kept
        self._worded: OrderedDict[int, tuple[str | None, Settings, AlertMessage]] = OrderedDict()

    async def message_for(self, notice: NoticeRow) -> AlertMessage:
        """Return the message every channel sends for `notice` (worded once while its code and the profiles stay)."""
        code = await self._codes.code(notice.session_id) if notice.session_id else None
        clients = await self._tracker.clients.settings()
        if (worded := self._worded.get(notice.id)) is not None and worded[0] == code and worded[1] is clients:
            return worded[2]
        words, digests = self._private_to(clients, notice.therapist_id)
        message = compose(
            notice.id, notice.kind, notice.session_id, notice.message, code, self._settings.server.public_url, words, notice.key, digests,
            self._settings.privacy.data_key,
        )
        self._worded[notice.id] = (code, clients, message)
        if len(self._worded) > self._kept:
            self._worded.popitem(last=False)
        return message

    def _private_to(self, clients: Settings, therapist_id: str) -> tuple[tuple[str, ...], frozenset[str]]:
        """Return the names and emails, and the name digests, of a therapist's clients (the settings file's and the database's)."""
        if clients is not self._profiles:  # the profiles were read again: work them out afresh
            self._profiles, self._private = clients, {}
        if therapist_id not in self._private:
            self._private[therapist_id] = tuple(private_words(clients, therapist_id)), private_name_digests(clients, therapist_id)
        return self._private[therapist_id]
