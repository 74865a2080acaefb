"""Record what became of claimed deliveries (sent, failed, coalesced, to retry): a batch of them in one statement."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import case, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema

D = schema.deliveries
# Each change binds about ten values: this many stay far below every driver's bound on parameters.
STATEMENT_CHANGES = 200


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


async def apply_changes(conn: AsyncConnection, changes: list[DeliveryChange]) -> list[bool]:
    """Apply each change whose claim still holds, in the caller's transaction; return which were applied, in order."""
    applied: list[bool] = []
    for group in _statements(changes):
        def by_id(value: str, changes: list[DeliveryChange] = group) -> dict[int, str | None]:
            return {c.delivery_id: getattr(c, value) for c in changes}

        values: dict[str, Any] = dict(
            claim=None,
            claimed_until=None,
            state=case(by_id("state"), value=D.c.id),
            last_error=case(by_id("last_error"), value=D.c.id),
            updated_at=case(by_id("updated_at"), value=D.c.id),
        )
        if retried := {c.delivery_id: c.next_attempt_at for c in group if c.next_attempt_at is not None}:
            values["next_attempt_at"] = case(retried, value=D.c.id, else_=D.c.next_attempt_at)
        claimed = tuple_(D.c.id, D.c.claim).in_([(c.delivery_id, c.claim) for c in group])
        query = update(D).where(D.c.state == "sending", claimed).values(**values).returning(D.c.id)
        done = set((await conn.execute(query)).scalars())
        applied.extend(c.delivery_id in done for c in group)
    return applied
