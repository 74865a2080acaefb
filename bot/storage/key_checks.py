"""Refuse to start with keys that are not the ones this database was written with: a clear error, never garbage."""
from __future__ import annotations

import hmac

from sqlalchemy import Connection, select

from bot.core.digests import keyed

from .at_rest import AtRest
from .schema import key_checks
from .sealing import KeyProblem, Unreadable

NOTES, DATA = "notes", "data"
CHECKED_TEXT = "Session Companion key check"


def check_keys(conn: Connection, at_rest: AtRest) -> None:
    """Check the keys against the database's key checks, writing them at first start; raise KeyProblem on a mismatch."""
    kept = dict(conn.execute(select(key_checks.c.name, key_checks.c.value)).all())
    if NOTES not in kept:
        conn.execute(key_checks.insert().values(name=NOTES, value=at_rest.cipher.seal(CHECKED_TEXT)))
    else:
        try:
            opened = at_rest.cipher.open(kept[NOTES])
        except Unreadable:
            opened = None
        if opened != CHECKED_TEXT:
            raise KeyProblem(
                f"the notes key does not open stored notes: none of the {at_rest.cipher.count} configured notes key(s) "
                "opens this database's key check. Configure the key the notes were written with (a new key goes first, "
                "the old one after it, until `companion rotate-key` has run)"
            )
    data_check = keyed(CHECKED_TEXT, at_rest.data_key)
    if DATA not in kept:
        conn.execute(key_checks.insert().values(name=DATA, value=data_check))
    elif not hmac.compare_digest(kept[DATA], data_check):
        raise KeyProblem(
            "the data key is not the one this database's digests of emails and names were made with: "
            "configure that [privacy] data_key again (a new one would stop every client profile matching)"
        )


def rotated_check(conn: Connection, at_rest: AtRest) -> bool:
    """Seal the notes key check under the current key; return whether it changed."""
    token = conn.execute(select(key_checks.c.value).where(key_checks.c.name == NOTES)).scalar()
    if token is None or at_rest.cipher.is_current(token):
        return False
    conn.execute(key_checks.update().where(key_checks.c.name == NOTES).values(value=at_rest.cipher.rotated(token)))
    return True
