"""Share session changes and delivery updates with the other instances, and tell the board theirs (re-read on arrival)."""
from __future__ import annotations

import asyncio
import logging
import secrets

from bot.storage.change_notes import ChangeNotes

from .notice_board import DeliveryUpdate, NoticeBoard, SessionChanged

_LOGGER = logging.getLogger(__name__)
FROM = "from:"  # the first item of a note: the instance that sent it (it hears its own notes too)
DELIVERY = "delivery:"  # an item naming a delivery by its id; any other item is a session id
NOTE_ITEMS = 200  # items in one note: far below PostgreSQL's bound on a payload, so a note is never cut in parts
# Changes made within this long share a note: a burst of deliveries costs a transaction, not one each.
GATHER_SECONDS = 0.05


class SharedChanges:
    """This instance's changes, noted on `companion_changes`; the other instances' changes, told on the board here."""

    def __init__(self, board: NoticeBoard, notes: ChangeNotes) -> None:
        self._board, self._notes = board, notes
        self._origin = FROM + secrets.token_hex(4)
        self._out: dict[str, None] = {}  # items to send, each once, in order
        self._in: dict[str, None] = {}  # items heard, each once, in order
        self._waiting = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Send every change published on the board from now on, and tell the board what is heard."""
        self._board.share_with(self.share)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="shared-changes")

    async def stop(self) -> None:
        """Stop sending and hearing (changes not sent yet are hints lost, not data)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def share(self, item: DeliveryUpdate | SessionChanged) -> None:
        """Note a change made here, to be sent with any others made meanwhile."""
        self._out[f"{DELIVERY}{item.delivery_id}" if isinstance(item, DeliveryUpdate) else item.session_id] = None
        self._waiting.set()

    def heard(self, payload: str) -> None:
        """Take a note sent by an instance (not this one's own)."""
        origin, _, items = payload.partition(",")
        if origin != self._origin and origin.startswith(FROM) and items:
            self._in.update(dict.fromkeys(items.split(",")))
            self._waiting.set()

    async def _run(self) -> None:
        while True:
            await self._waiting.wait()
            await asyncio.sleep(GATHER_SECONDS)
            self._waiting.clear()
            out, self._out = list(self._out), {}
            heard, self._in = list(self._in), {}
            if not self._board.listened:  # no stream open here: the changes heard would be told to no one
                heard = []
            # The database away: these hints are lost, not the data (the live pages catch up at their next change).
            try:
                for start in range(0, len(out), NOTE_ITEMS):
                    await self._notes.send([self._origin, *out[start:start + NOTE_ITEMS]])
            except Exception as err:
                _LOGGER.warning("noting changes for the other instances failed (%s)", type(err).__name__)
            try:
                await self._tell(heard)
            except Exception as err:
                _LOGGER.warning("reading the other instances' changes failed (%s)", type(err).__name__)

    async def _tell(self, items: list[str]) -> None:
        """Tell the board the changes heard, as they are now."""
        deliveries = [int(n) for i in items if i.startswith(DELIVERY) and (n := i.removeprefix(DELIVERY)).isascii() and n.isdigit()]
        sessions = [i for i in items if not i.startswith(DELIVERY)]
        if sessions:
            therapists = await self._notes.therapists(sessions)
            for session_id in sessions:
                if session_id in therapists:
                    self._board.tell_heard(SessionChanged(session_id, therapists[session_id]))
        if deliveries:
            for d in await self._notes.deliveries(deliveries):
                self._board.tell_heard(DeliveryUpdate(d.notice_id, d.therapist_id, d.channel, d.state, d.id))
