"""Re-encrypt every sealed value under the current notes key, in batches: `companion rotate-key`."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Select, Update, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from . import schema
from .at_rest import AtRest, sealed_slots
from .key_checks import rotated_check
from .sealing import Unreadable

_LOGGER = logging.getLogger(__name__)
BATCH = 200


@dataclass
class Rotation:
    """What a rotation did: values sealed again, values the current key already sealed, and values no key opens."""

    rotated: int = 0
    current: int = 0
    unreadable: int = 0


async def rotate_sealed(engine: AsyncEngine, at_rest: AtRest, batch: int = BATCH) -> Rotation:
    """Seal every note, sealed event field and the key check under the current key; run again, it changes nothing.

    Each batch commits on its own, so a rotation cut short keeps what it did and the next run goes on.
    A value no configured key opens is left as it is and logged by row id.
    """
    done = Rotation()
    n, e = schema.notes, schema.events
    await _rotate(engine, select(n.c.id, n.c.text), update(n).where(n.c.id == bindparam("row_id")).values(text=bindparam("value")),
                  lambda row: _note(row, at_rest, done), batch)
    await _rotate(engine, select(e.c.id, e.c.data), update(e).where(e.c.id == bindparam("row_id")).values(data=bindparam("value")),
                  lambda row: _event(row, at_rest, done), batch)
    async with engine.begin() as conn:
        if await conn.run_sync(rotated_check, at_rest):
            done.rotated += 1
    return done


async def _rotate(engine: AsyncEngine, query: Select[Any], change: Update, rotate: Callable[[Any], str | None], batch: int) -> None:
    """Page through `query` by id; write back the rows `rotate` returns a new value for, a batch a transaction."""
    table_id, last = query.selected_columns[0], None
    while True:
        async with engine.begin() as conn:
            page = query if last is None else query.where(table_id > last)
            rows = (await conn.execute(page.order_by(table_id).limit(batch))).all()
            if not rows:
                return
            changed = [dict(row_id=row[0], value=value) for row in rows if (value := rotate(row)) is not None]
            if changed:
                await conn.execute(change, changed)
            last = rows[-1][0]


def _again(token: str, at_rest: AtRest, done: Rotation, what: str) -> str | None:
    """Return `token` sealed under the current key, or None if it already is or no key opens it (counted)."""
    if at_rest.cipher.is_current(token):
        done.current += 1
        return None
    try:
        sealed = at_rest.cipher.rotated(token)
    except Unreadable:
        done.unreadable += 1
        _LOGGER.warning("%s cannot be opened with the configured notes keys: left as it is", what)
        return None
    done.rotated += 1
    return sealed


def _note(row: Any, at_rest: AtRest, done: Rotation) -> str | None:
    return _again(row.text, at_rest, done, f"note {row.id}")


def _event(row: Any, at_rest: AtRest, done: Rotation) -> str | None:
    try:
        record = json.loads(row.data)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    changed = False
    for holder, key in list(sealed_slots(record)):
        sealed = _again(holder[key], at_rest, done, f"stored event {row.id}")
        if sealed is not None:
            holder[key], changed = sealed, True
    return json.dumps(record, sort_keys=True) if changed else None
