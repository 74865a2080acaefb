"""Raise a note prompt, once, for each change of the client's camera or framing, once its wording can no longer change."""
from __future__ import annotations

from datetime import datetime
from typing import Mapping, Sequence

from bot.core.changes import CAMERA, Change
from bot.core.due_work import NoticeSpec
from bot.core.prompts import NOTE_PROMPT, asks, note_prompt, prompt_key
from bot.core.session_notices import SETTLE
from bot.core.settings import Settings
from bot.storage.due_store import DueStore
from bot.storage.judging_writes import JudgingWrites
from bot.storage.store import SessionRow, Store

from .heard import HeardUpTo


class NotePrompter:
    """Ask the therapist about each change: a framing change at once, a camera-off interval when it is over."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self._settings = settings
        self._store = store
        self._heard = DueStore(store)

    async def prompt_ids(self, row: SessionRow, changes: Sequence[Change]) -> dict[str, int]:
        """Return the id of each change's prompt, by change id, for the changes already asked about."""
        return _asked(row, changes, await self._store.prompt_ids(row.therapist_id, row.id))

    async def raise_due(
        self, row: SessionRow, changes: Sequence[Change], now: datetime, raised: Mapping[str, int], writes: JudgingWrites,
        heard: HeardUpTo | None = None,
    ) -> dict[str, datetime]:
        """Add to `writes` the prompts the changes have earned by `now`, given the ids of the session's notices `raised` before,
        by key, and (if kept) when the rows of its events were received; return when each waiting one is judged again, by change id."""
        therapist = self._settings.therapist(row.therapist_id)
        zone = therapist.timezone if therapist else "UTC"
        asked = _asked(row, changes, raised)
        waiting: dict[str, datetime] = {}
        for change in changes:
            if change.id in asked or not asks(change, self._settings.prompts):
                continue
            if change.source == CAMERA and change.until is not None:
                # An interval's bounds change only with events of its own time or earlier, and those can
                # arrive late and in any order: the prompt waits until none has arrived for SETTLE, so it
                # is worded once, the same whatever order the events came in.
                last = heard.up_to(change.until) if heard is not None else await self._heard.last_heard(row.meeting, up_to=change.until)
                if last is not None and now < last + SETTLE:
                    waiting[change.id] = last + SETTLE
                    continue
            prompt = note_prompt(row.id, change, zone)
            writes.raise_notice(NoticeSpec(row.therapist_id, row.id, NOTE_PROMPT, prompt.key, prompt.at, prompt.message), now)
        return waiting


def _asked(row: SessionRow, changes: Sequence[Change], raised: Mapping[str, int]) -> dict[str, int]:
    """Return the id of each change's prompt among the notices `raised` (ids by key), by change id."""
    return {c.id: raised[key] for c in changes if (key := prompt_key(row.id, c.id)) in raised}
