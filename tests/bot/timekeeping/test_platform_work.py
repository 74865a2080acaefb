"""A platform's own due work: carried out by the handler it registers, left pending when none is there yet."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.due_work import FIRED, DueRow, DueWork

from .harness import T0, Clock, Harness


async def test_a_registered_kind_is_carried_out_once_and_finished_with_the_handlers_outcome(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        done: list[str] = []

        async def handler(row: DueRow) -> str:
            done.append(row.work.key)
            return FIRED

        await h.keeper.plan(DueWork("call_keep_alive:s1:1", "call_keep_alive", T0 + timedelta(minutes=30), "t1", "s1"))
        # Woken before its platform started (a restart): left pending, and nothing fails.
        h.clock.now = T0 + timedelta(minutes=30)
        (row,) = await h.due.pending(kind="call_keep_alive")
        await h.keeper.fire(row.id)
        assert (await h.due.get(row.id)).pending and done == []
        h.keeper.register("call_keep_alive", handler)
        await h.keeper.fire(row.id)
        await h.keeper.fire(row.id)
        assert done == ["call_keep_alive:s1:1"]
        finished = await h.due.get(row.id)
        assert not finished.pending and finished.outcome == FIRED
        with pytest.raises(ValueError):
            h.keeper.register("call_keep_alive", handler)


async def test_a_handler_that_returns_no_outcome_leaves_its_row_pending_at_its_new_time(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        async def later(row: DueRow) -> None:
            await h.keeper.plan(DueWork(row.work.key, row.work.kind, row.work.due_at + timedelta(minutes=2), "t1", "s1"))

        h.keeper.register("call_join", later)
        await h.keeper.plan(DueWork("call_join:s1", "call_join", T0, "t1", "s1"))
        (row,) = await h.due.pending(kind="call_join")
        await h.keeper.fire(row.id)
        (still,) = await h.due.pending(kind="call_join")
        assert still.id == row.id and still.work.due_at == T0 + timedelta(minutes=2)
        assert h.schedule.jobs[row.id] == T0 + timedelta(minutes=2)
