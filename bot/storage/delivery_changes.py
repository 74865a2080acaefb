"""Record what became of claimed deliveries (sent, failed, coalesced, to retry): a batch of them in one statement."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

from sqlalchemy import BindParameter, ColumnElement, Update, bindparam, case, update
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema

D = schema.deliveries
# Each change binds ten values: this many stay far below every driver's bound on parameters.
STATEMENT_CHANGES = 200
# A statement has room for a number of changes from this list, the unused places bound to no row, so that a
# handful of statements, each built and compiled once, serve every batch (building one afresh cost more than its trip).
ROOM = (1, 2, 4, 8, 16, 32, 64, 128, STATEMENT_CHANGES)
NO_ROW = -1  # no delivery has this id


@dataclass(frozen=True)
class DeliveryChange:
    """One claimed delivery's new state, recorded only if the row still carries the claim it was sent under."""

    delivery_id: int
    claim: str
    state: str
    updated_at: str
    last_error: str | None = None
    next_attempt_at: str | None = None  # None: unchanged


def _statements(changes: list[DeliveryChange]) -> Iterator[list[DeliveryChange]]:
    """Split changes into statements, each naming a delivery once (a CASE keyed by id holds one value per id)."""
    group: list[DeliveryChange] = []
    ids: set[int] = set()
    for change in changes:
        if change.delivery_id in ids or len(group) >= STATEMENT_CHANGES:
            yield group
            group, ids = [], set()
        group.append(change)
        ids.add(change.delivery_id)
    if group:
        yield group


@lru_cache(maxsize=len(ROOM))
def _recording(room: int) -> Update:
    """Return the statement that records up to `room` changes, each bound by its place: built once, compiled once."""
    ids = [bindparam(f"change{i}_id", type_=D.c.id.type) for i in range(room)]  # one parameter a place, named in each CASE

    def by_place(name: str, column: Any, keys: list[BindParameter[int]] = ids) -> list[tuple[ColumnElement[Any], ColumnElement[Any]]]:
        return [(key, bindparam(f"change{i}_{name}", type_=column.type)) for i, key in enumerate(keys)]

    # A change that leaves next_attempt_at unchanged binds NO_ROW in its place there, so the ELSE keeps it.
    retried = by_place("next_attempt_at", D.c.next_attempt_at, [bindparam(f"change{i}_retried", type_=D.c.id.type) for i in range(room)])
    return (
        update(D)
        .where(D.c.state == "sending", D.c.id.in_(ids), D.c.claim == case(*by_place("claim", D.c.claim), value=D.c.id))
        .values(
            claim=None,
            claimed_until=None,
            state=case(*by_place("state", D.c.state), value=D.c.id),
            last_error=case(*by_place("last_error", D.c.last_error), value=D.c.id),
            updated_at=case(*by_place("updated_at", D.c.updated_at), value=D.c.id),
            next_attempt_at=case(*retried, value=D.c.id, else_=D.c.next_attempt_at),
        )
        .returning(D.c.id)
    )


def _values(group: list[DeliveryChange], room: int) -> dict[str, Any]:
    """Return the statement's values for a group of changes, the places left over bound to no row."""
    values: dict[str, Any] = {}
    for i in range(room):
        place = _NO_CHANGE if i >= len(group) else _place(group[i])
        values.update({f"change{i}_{name}": value for name, value in place.items()})
    return values


def _place(change: DeliveryChange) -> dict[str, Any]:
    """Return a change's values in its place, by their names there."""
    return {
        "id": change.delivery_id, "claim": change.claim, "state": change.state, "last_error": change.last_error,
        "updated_at": change.updated_at, "next_attempt_at": change.next_attempt_at,
        "retried": NO_ROW if change.next_attempt_at is None else change.delivery_id,
    }


# A place left over: bound to no row.
_NO_CHANGE: dict[str, Any] = {
    "id": NO_ROW, "claim": "", "state": None, "last_error": None, "updated_at": None, "next_attempt_at": None, "retried": NO_ROW
}


async def apply_changes(conn: AsyncConnection, changes: list[DeliveryChange]) -> list[bool]:
    """Apply each change whose claim still holds, in the caller's transaction; return which were applied, in order."""
    applied: list[bool] = []
    for group in _statements(changes):
        room = next(size for size in ROOM if size >= len(group))
        done = set((await conn.execute(_recording(room), _values(group, room))).scalars())
        applied.extend(c.delivery_id in done for c in group)
    return applied
