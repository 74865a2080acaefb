"""Plan due work (reminders, session timers) and carry it out, exactly once, when it falls due."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Iterable, Protocol

from bot.core import events as ev
from bot.core.due_work import (
    CANCELLED,
    CHECKLIST_REMINDER,
    EXPIRED,
    FIRED,
    NOTICE_SETTLE,
    SKIPPED,
    VIDEO_OFF_CHECK,
    WATCHDOG,
    DueRow,
    DueWork,
    NoticeSpec,
    notice_settle_key,
)
from bot.core.prompts import NOTE_PROMPT
from bot.core.reminders import Appointment, plan_reminders, reminder_notice
from bot.core.session_notices import session_notices, settle_timers, settled
from bot.core.timers import close_due, session_timers, watchdog_wakes
from bot.storage.due_store import DueStore
from bot.tracking.tracker import SessionTracker, SessionView

_LOGGER = logging.getLogger(__name__)


class Schedule(Protocol):
    """Whatever runs due work at its time (APScheduler in the service, a list in tests)."""

    def add(self, row: DueRow) -> None: ...

    def remove(self, row_id: int) -> None: ...

    def keep_only(self, pending: Iterable[DueRow]) -> None: ...


class Timekeeper:
    """The service's due work: rows are the truth, the schedule only wakes us up."""

    def __init__(self, tracker: SessionTracker, due: DueStore, schedule: Schedule) -> None:
        self.tracker = tracker
        self.settings = tracker.settings
        self.due = due
        self.schedule = schedule
        self._firing: set[int] = set()  # rows being carried out: the evaluation they cause must not cancel them
        self._handlers: dict[str, Callable[[DueRow], Awaitable[None]]] = {
            CHECKLIST_REMINDER: self._remind,
            VIDEO_OFF_CHECK: self._check_video,
            WATCHDOG: self._close,
            NOTICE_SETTLE: self._settle,
        }

    def register(self, kind: str, handler: Callable[[DueRow], Awaitable[str | None]]) -> None:
        """Carry out due work of `kind` (a platform's own) with `handler`, which returns the row's outcome.

        A handler that returns None has moved its row to a later time (it stays pending); one that raises
        leaves it pending where it was: the next start or reconcile runs it again.
        """
        if kind in self._handlers:
            raise ValueError(f"due work of kind {kind} already has a handler")

        async def finish(row: DueRow) -> None:
            outcome = await handler(row)
            if outcome is not None:
                await self._finish(row, outcome)

        self._handlers[kind] = finish

    async def plan(self, work: DueWork) -> None:
        """Store `work` (or move it while pending) and have the schedule run it at its time."""
        row = await self.due.put(work, self.tracker.clock())
        if row is not None and row.id not in self._firing:  # a row being fired is rescheduled when it is done
            self.schedule.add(row)

    async def cancel(self, rows: Iterable[DueRow]) -> None:
        """Cancel pending rows and drop their jobs."""
        for row in rows:
            if row.id in self._firing:
                continue
            await self.due.finish(row.id, CANCELLED, self.tracker.clock())
            self.schedule.remove(row.id)
            _LOGGER.info("cancelled %s %s", row.work.kind, row.id)

    async def after_evaluation(self, view: SessionView, now: datetime) -> None:
        """Raise the start and summary notices the session has earned, and move its timers."""
        row, state = view.row, view.state
        heard = view.last_heard
        notices = session_notices(row.id, state, view.client_code, view.checklist, settled(heard, now))
        for notice in notices.due:
            if notice.key in view.notice_keys:  # raised before: raising it again would only write nothing
                continue
            await self.tracker.board.raise_notice(row.therapist_id, row.id, notice.kind, notice.key, notice.at, notice.message, now)
        wanted = session_timers(row.id, row.therapist_id, state, self.settings, now, heard)
        wanted += settle_timers(row.id, row.therapist_id, notices, heard)
        wanted += [
            DueWork(notice_settle_key(row.id, f"{NOTE_PROMPT}:{change_id}"), NOTICE_SETTLE, due, row.therapist_id, row.id)
            for change_id, due in view.prompts_waiting.items()
        ]
        keys = {w.key for w in wanted}
        pending = {r.work.key: r for r in await self.due.pending(session_id=row.id)}
        stale = [r for r in pending.values() if r.work.key not in keys]
        await self.cancel(r for r in stale if r.work.kind in (VIDEO_OFF_CHECK, WATCHDOG, NOTICE_SETTLE))
        for work in wanted:
            kept = pending.get(work.key)
            if kept is not None and kept.work == work:  # pending as wanted, so already scheduled: no write
                continue
            await self.plan(work)

    async def keep_reminders(
        self, therapist_id: str, platform: str, planned: Iterable[Appointment], meeting_ids: set[str] | None = None
    ) -> None:
        """Bring the therapist's pending reminders in step with `planned` (only `meeting_ids`, if given)."""
        wanted = {w.key: w for w in plan_reminders(planned, self.settings.reminders, self.tracker.clock())}
        pending = await self.due.pending(kind=CHECKLIST_REMINDER, therapist_id=therapist_id)
        in_scope = [
            r for r in pending
            if r.work.data.get("platform") == platform and (meeting_ids is None or r.work.data.get("meeting_id") in meeting_ids)
        ]
        await self.cancel(r for r in in_scope if r.work.key not in wanted)
        for work in wanted.values():
            await self.plan(work)

    async def meeting_reminders(self, platform: str, meeting_id: str) -> list[DueRow]:
        """Return a meeting's pending reminders."""
        pending = await self.due.pending(kind=CHECKLIST_REMINDER)
        return [r for r in pending if r.work.data.get("platform") == platform and r.work.data.get("meeting_id") == meeting_id]

    async def cancel_reminders(self, platform: str, meeting_id: str, starts: set[str] | None = None) -> None:
        """Cancel a meeting's pending reminders (only those starting at `starts`, if given)."""
        rows = await self.meeting_reminders(platform, meeting_id)
        await self.cancel(r for r in rows if starts is None or r.work.data.get("start") in starts)

    async def reconcile(self) -> list[DueRow]:
        """Make the schedule match the pending rows (after a start, or rows written elsewhere)."""
        rows = await self.due.pending()
        for row in rows:
            self.schedule.add(row)
        self.schedule.keep_only(rows)
        return rows

    async def fire(self, row_id: int) -> None:
        """Carry out a row that fell due; a row already done does nothing."""
        row = await self.due.get(row_id)
        if row is None or not row.pending or row.id in self._firing:
            return
        handler = self._handlers.get(row.work.kind)
        if handler is None:  # a platform's work, woken before the platform started: its start schedules it again
            _LOGGER.warning("due %s %s has no handler yet: left pending", row.work.kind, row.id)
            return
        _LOGGER.info("due %s %s fired (due %s)", row.work.kind, row.id, row.work.due_at.isoformat())
        self._firing.add(row.id)
        try:
            await handler(row)
        finally:
            self._firing.discard(row.id)
        after = await self.due.get(row_id)
        if after is not None and after.pending:  # moved while it fired (a watchdog that must wait longer)
            self.schedule.add(after)

    async def _finish(self, row: DueRow, outcome: str, notice: NoticeSpec | None = None) -> None:
        _, new = await self.due.finish(row.id, outcome, self.tracker.clock(), notice)
        if new is not None:
            self.tracker.board.publish(new)

    async def _remind(self, row: DueRow) -> None:
        settings = await self.tracker.clients.settings()  # tailored to a database profile too
        notice = reminder_notice(row, settings, self.tracker.checklist_points, self.tracker.clock())
        await self._finish(row, FIRED if notice else EXPIRED, notice)

    async def _check_video(self, row: DueRow) -> None:
        # Judge first, then finish: a crash in between judges again, and alerts are raised once by key.
        await self.tracker.evaluate(row.work.session_id or "")
        await self._finish(row, FIRED)

    async def _settle(self, row: DueRow) -> None:
        # Judging raises what waited; deliveries heard meanwhile move this row later instead.
        await self.tracker.evaluate(row.work.session_id or "")
        after = await self.due.get(row.id)
        if after is not None and after.pending and after.work.due_at > row.work.due_at:
            return  # still pending: fire() wakes it at its new time
        await self._finish(row, FIRED)

    async def _close(self, row: DueRow) -> None:
        session = await self.tracker.store.session(row.work.session_id or "")
        if session is None:
            await self._finish(row, SKIPPED)
            return
        view = await self.tracker.view(session)
        now = self.tracker.clock()
        close_at = close_due(view.state, self.settings.watchdog)
        wakes = watchdog_wakes(view.state, self.settings.watchdog, await self.due.last_heard(session.meeting))
        if close_at is None or wakes is None:
            await self._finish(row, SKIPPED)
            return
        if wakes > now + timedelta(seconds=1):  # events arrived since it was planned: wait longer
            await self.plan(DueWork(row.work.key, WATCHDOG, wakes, row.work.therapist_id, row.work.session_id))
            return
        marker = ev.SessionClosed(meeting=session.meeting, at=close_at, reason="watchdog")
        await self.tracker.store.record_events(session.therapist_id, session.meeting, [(row.work.key, marker)], now)
        _LOGGER.info("watchdog closed session %s", session.id)
        await self.tracker.evaluate(session.id)  # raises summary_ready and stops the session's timers
        await self._finish(row, FIRED)
