"""Upgrade a database the previous version wrote: nothing identifying left in the clear, the therapist's words sealed.

It runs once, as a schema upgrade, inside the upgrade's transaction and lock:
- the sessions' meeting topics are dropped (the column goes);
- each stored event is rewritten as the store now writes it: a participant's display name becomes its
  keyed digest (and is kept, encrypted, only with `[privacy] show_names`), the unsalted SHA-256 of an
  email is keyed (HMAC over that digest is exactly what a new email's digest is: nothing is lost),
  and a hand-marked change's detail is sealed; a row that is no event at all is emptied;
- notes are sealed; the client profiles' unsalted digests of emails and names are keyed;
- an alert about someone known only by name was keyed by a hash of that name: its notice gets the
  key the new version gives it, so it is not raised again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from typing import Any, Iterator, Sequence

from sqlalchemy import Connection, bindparam, inspect, select, text, update

from bot.core import events as ev
from bot.core.digests import keyed, name_digest

from .at_rest import AtRest
from .schema import client_profiles, events, notes, notices
from .session_ids import session_id_for

_LOGGER = logging.getLogger(__name__)
BATCH = 500


def make_private(conn: Connection, at_rest: AtRest) -> None:
    """Rewrite the previous version's rows as this version keeps them (see the module's docstring)."""
    if "topic" in {c["name"] for c in inspect(conn).get_columns("sessions")}:
        conn.execute(text("ALTER TABLE sessions DROP COLUMN topic"))
    renamed = _events(conn, at_rest)
    _notes(conn, at_rest)
    _profiles(conn, at_rest)
    _notice_keys(conn, renamed)


def _batches(conn: Connection, query: Any) -> Iterator[Sequence[Any]]:
    """Yield the rows of `query` (which selects an `id` first) a batch at a time, in id order."""
    table_id = query.selected_columns[0]
    last = None
    while True:
        page = query if last is None else query.where(table_id > last)
        rows = conn.execute(page.order_by(table_id).limit(BATCH)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _events(conn: Connection, at_rest: AtRest) -> dict[str, dict[str, str]]:
    """Rewrite every event row; return, by session id, the old and new person keys of people known by name alone."""
    renamed: dict[str, dict[str, str]] = {}
    query = select(events.c.id, events.c.platform, events.c.occurrence_id, events.c.key, events.c.data)
    change = update(events).where(events.c.id == bindparam("row_id")).values(key=bindparam("new_key"), data=bindparam("new_data"))
    for rows in _batches(conn, query):
        rewritten = []
        for row in rows:
            meeting = ev.MeetingRef(row.platform, row.occurrence_id)
            try:
                event = ev.event_from_record(meeting, json.loads(row.data), lambda plain: plain)
            except (ValueError, TypeError, KeyError, OverflowError):
                _LOGGER.warning("stored event %s could not be read before the upgrade either: emptied", row.id)
                rewritten.append(dict(row_id=row.id, new_key=row.key, new_data="{}"))
                continue
            if isinstance(event, ev.ParticipantEvent):
                event = _keyed_email(event, at_rest)
                _note_renamed(renamed, session_id_for(row.platform, row.occurrence_id), event.participant, at_rest)
            rewritten.append(dict(row_id=row.id, new_key=at_rest.event_key(row.key, event), new_data=at_rest.event_data(event)))
        conn.execute(change, rewritten)
    return renamed


def _keyed_email(event: ev.ParticipantEvent, at_rest: AtRest) -> ev.ParticipantEvent:
    """Key the unsalted SHA-256 of an email the previous version kept."""
    ref = event.participant
    if not ref.email_hash:
        return event
    return dataclasses.replace(event, participant=dataclasses.replace(ref, email_hash=keyed(ref.email_hash, at_rest.data_key)))


def _note_renamed(renamed: dict[str, dict[str, str]], session_id: str, ref: ev.ParticipantRef, at_rest: AtRest) -> None:
    """Note the old and new person key (bot/core/participants.py `Person.key`) of someone with no id but a name."""
    if ref.stable_id or ref.account_id or ref.user_id or not ref.name:
        return
    old = hashlib.sha256(f"name:{ref.name}".encode()).hexdigest()[:16]
    new = hashlib.sha256(f"name_digest:{name_digest(ref.name, at_rest.data_key)}".encode()).hexdigest()[:16]
    renamed.setdefault(session_id, {})[old] = new


def _notes(conn: Connection, at_rest: AtRest) -> None:
    change = update(notes).where(notes.c.id == bindparam("row_id")).values(text=bindparam("sealed"))
    for rows in _batches(conn, select(notes.c.id, notes.c.text)):
        conn.execute(change, [dict(row_id=row.id, sealed=at_rest.cipher.seal(row.text)) for row in rows])


def _keyed_list(raw: str, key: str) -> str:
    """Return a JSON list of unsalted digests keyed; anything else as it was (the profile reads as unreadable anyway)."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return raw
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return raw
    return json.dumps([keyed(v, key) for v in value])


def _profiles(conn: Connection, at_rest: AtRest) -> None:
    p = client_profiles
    change = update(p).where(p.c.id == bindparam("row_id")).values(email_digests=bindparam("emails"), name_digests=bindparam("names"))
    for rows in _batches(conn, select(p.c.id, p.c.email_digests, p.c.name_digests)):
        conn.execute(change, [
            dict(row_id=row.id, emails=_keyed_list(row.email_digests, at_rest.data_key), names=_keyed_list(row.name_digests, at_rest.data_key))
            for row in rows
        ])


def _notice_keys(conn: Connection, renamed: dict[str, dict[str, str]]) -> None:
    """Give each alert about someone known by name alone (a third party) the key the new version makes for it."""
    n = notices
    for session_id, keys in renamed.items():
        for old, new in keys.items():
            before, after = f"{session_id}:third_party_joined:{old}", f"{session_id}:third_party_joined:{new}"
            conn.execute(update(n).where(n.c.session_id == session_id, n.c.key == before).values(key=after))
