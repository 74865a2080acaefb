"""Notes and change details sealed at rest: read back after `rotate-key`, a wrong key refused, an unreadable row shown as such."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, update

from bot.core import events as ev
from bot.storage import schema
from bot.storage.at_rest import AtRest
from bot.storage.rotation import rotate_sealed
from bot.storage.sealing import UNREADABLE_NOTE, KeyProblem, NotesCipher
from bot.storage.store import Store, create_engine, session_id_for
from tests.conftest import DATA_KEY, NOTES_KEY
from tests.raw_read import every_value, found

NEW_KEY = "bmV3LW5vdGVzLWtleS1vZi0zMi1ieXRlcy1mb3ItdGU="
STRANGER = "YS1rZXktbm8tY29uZmlnLWhhcy0zMi1ieXRlcy1sbmc="
NOW = datetime(2026, 11, 20, 11, 0, tzinfo=timezone.utc)
MEETING = ev.MeetingRef("zoom", "occ-rotate==", "85746065432", "HOST")
SID = session_id_for("zoom", MEETING.occurrence_id)
NOTES = [f"Note {n}: he talked about his sister Maureen" for n in range(5)]
DETAIL = "Walked to the window at Maureen's"
GUEST = ev.ParticipantRef(user_id="7", name="Maureen Guest")


def keys(*notes_keys: str) -> AtRest:
    return AtRest(NotesCipher(notes_keys), DATA_KEY, keep_names=True)


@pytest.fixture
async def written(storage_url):
    """A database written under NOTES_KEY: notes, a marked change's detail, and a name kept (show_names)."""
    engine = create_engine(storage_url)
    store = Store(engine, keys(NOTES_KEY))
    await store.upgrade()
    events = [ev.ParticipantJoined(MEETING, NOW, participant=GUEST), ev.FramingChanged(MEETING, NOW, change="other", detail=DETAIL, source="therapist")]
    await store.record_events("t1", MEETING, [(f"k{n}", e) for n, e in enumerate(events)], NOW)
    for text in NOTES:
        await store.add_note(SID, NOW, text, None)
    await store.close()
    yield engine
    await engine.dispose()


async def opened(engine, at_rest: AtRest) -> tuple[list[str], list[ev.MeetingEvent]]:
    store = Store(engine, at_rest)
    await store.upgrade()
    try:
        return [n.text for n in await store.notes(SID)], await store.session_events(MEETING)
    finally:
        await store.close()


async def test_everything_reads_back_after_rotating_to_a_new_key_and_dropping_the_old(written, storage_url):
    first = await rotate_sealed(written, keys(NEW_KEY, NOTES_KEY), batch=2)
    assert (first.rotated, first.current, first.unreadable) == (len(NOTES) + 2 + 1, 0, 0)  # notes, detail, name, key check
    again = await rotate_sealed(written, keys(NEW_KEY, NOTES_KEY), batch=2)
    assert (again.rotated, again.current, again.unreadable) == (0, len(NOTES) + 2, 0)  # done once is done
    notes, events = await opened(written, keys(NEW_KEY))
    assert notes == NOTES
    assert [e.participant.name for e in events if isinstance(e, ev.ParticipantJoined)] == [GUEST.name]
    assert [e.detail for e in events if isinstance(e, ev.FramingChanged)] == [DETAIL]
    assert not found(["Maureen"], every_value(storage_url))


async def test_a_key_that_opens_nothing_stored_is_refused_at_start(written):
    with pytest.raises(KeyProblem, match="the notes key does not open stored notes"):
        await opened(written, keys(STRANGER))
    await rotate_sealed(written, keys(NEW_KEY, NOTES_KEY))
    with pytest.raises(KeyProblem, match="the notes key does not open stored notes"):
        await opened(written, keys(NOTES_KEY))  # the old key alone, once everything is under the new one


async def test_one_row_no_key_opens_is_shown_as_unreadable_and_named_by_id_in_the_log(written, caplog):
    stranger = NotesCipher([STRANGER]).seal("written under a key since lost")
    async with written.begin() as conn:
        note_id = (await conn.execute(select(schema.notes.c.id).order_by(schema.notes.c.id))).scalars().first()
        await conn.execute(update(schema.notes).where(schema.notes.c.id == note_id).values(text=stranger))
    with caplog.at_level(logging.WARNING):
        notes, _ = await opened(written, keys(NOTES_KEY))
    assert notes == [UNREADABLE_NOTE, *NOTES[1:]]
    assert f"note {note_id} cannot be opened" in caplog.text and "lost" not in caplog.text
    assert (await rotate_sealed(written, keys(NEW_KEY, NOTES_KEY))).unreadable == 1
