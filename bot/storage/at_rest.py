"""What the store keeps of an event: ids and times in the clear, names and emails as keyed digests, free text sealed."""
from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any, Iterator

from bot.core import events as ev
from bot.core.digests import digested, keyed
from bot.core.settings import PrivacySettings

from .sealing import KeyProblem, NotesCipher, Unreadable

_LOGGER = logging.getLogger(__name__)
UNREADABLE_TEXT = "[unreadable with the configured keys]"
KEYED_PREFIX = "k1:"


@dataclass(frozen=True)
class AtRest:
    """The keys the store keeps data with, and whether display names are kept (encrypted) at all."""

    cipher: NotesCipher
    data_key: str
    keep_names: bool = False

    @classmethod
    def from_settings(cls, privacy: PrivacySettings) -> AtRest:
        """Return the store's keys from `[privacy]`; raise KeyProblem, saying how to make one, if a key is missing."""
        if not privacy.data_key:
            raise KeyProblem("no data key is configured: make one with `companion new-key` and set [privacy] data_key (or COMPANION_PRIVACY_DATA_KEY)")
        return cls(NotesCipher(privacy.notes_keys), privacy.data_key, privacy.show_names)

    def prepared(self, event: ev.MeetingEvent) -> ev.MeetingEvent:
        """Return the event as it may be kept: a participant by ids and keyed digests (and name only if names are kept).

        A participant's event comes without its raw payload too: it is never kept.
        """
        if isinstance(event, ev.ParticipantEvent):
            return dataclasses.replace(event, participant=digested(event.participant, self.data_key, self.keep_names), raw={})
        return event

    def event_key(self, key: str, event: ev.MeetingEvent) -> str:
        """Return the stored key of an event: a platform's key made from a display name (no id to go by) is keyed too."""
        if isinstance(event, ev.ParticipantEvent) and not _has_id(event.participant):
            return KEYED_PREFIX + keyed(key, self.data_key)
        return key

    def event_data(self, event: ev.MeetingEvent) -> str:
        """Return the JSON the store keeps for an event (prepared, its free text and any name sealed).

        Its keys come in the fields' order, unsorted: nothing compares the text (the event's key tells
        deliveries apart) and a reader takes the keys in any order, as in the rows written sorted before.
        """
        return self._data(self.prepared(event))

    def kept(self, event: ev.MeetingEvent) -> tuple[str, ev.MeetingEvent | None]:
        """Return `event_data(event)` and the event `event_of` rebuilds from it (None: not sure, read it back)."""
        prepared = self.prepared(event)
        return self._data(prepared), ev.as_rebuilt(prepared)

    def _data(self, prepared: ev.MeetingEvent) -> str:
        return json.dumps(prepared.to_record(self.cipher.seal))

    def event_of(self, meeting: ev.MeetingRef, row_id: int, data: str) -> ev.MeetingEvent:
        """Rebuild a stored event; a sealed value no key opens reads as UNREADABLE_TEXT (logged by row id).

        Raise ValueError, TypeError or KeyError for a row that is no event at all.
        """
        def unseal(token: str) -> str:
            try:
                return self.cipher.open(token)
            except Unreadable:
                _LOGGER.warning("stored event %s holds a value none of the configured notes keys opens", row_id)
                return UNREADABLE_TEXT

        return ev.event_from_record(meeting, json.loads(data), unseal)


def _has_id(ref: ev.ParticipantRef) -> bool:
    return bool(ref.stable_id or ref.user_id or ref.account_id)


def sealed_slots(record: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Yield (mapping, key) for each sealed value of a stored event record: what rotating the keys re-encrypts."""
    cls = ev.EVENT_TYPES.get(record.get("kind", ""))
    if cls is None:
        return
    for f in dataclasses.fields(cls):
        if f.metadata.get("at_rest") == "sealed" and isinstance(record.get(f.name), str):
            yield record, f.name
    participant = record.get("participant")
    if isinstance(participant, dict):
        for f in dataclasses.fields(ev.ParticipantRef):
            if f.metadata.get("at_rest") == "sealed" and isinstance(participant.get(f.name), str):
                yield participant, f.name
