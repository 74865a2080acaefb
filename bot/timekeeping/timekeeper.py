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
from bot.storage.judging_writes import JudgingWrites, Written
from bot.tracking.tracker import SessionTracker, SessionView

_LOGGER = logging.getLogger(__name__)
Judge = Callable[[list[str]], Awaitable[set[str]]]  # judges sessions, returns those judged without failing
JUDGED = (VIDEO_OFF_CHECK, NOTICE_SETTLE)  # due work that is judging its session (and settle rows may move)
TOGETHER = (CHECKLIST_REMINDER, *JUDGED)  # overdue work caught up in a few writes; any other kind is fired alone


class Schedule(Protocol):
    """Whatever runs due work at its time (APScheduler in the service, a list in tests)."""

    def add(self, row: DueRow) -> None: ...

    def remove(self, row_id: int) -> None: ...

    def keep_only(self, pending: Iterable[DueRow]) -> None: ...


class Timekeeper:
    """The service's due work: rows are the truth, the schedule only wakes us up."""

    def __init__(self, tracker: SessionTracker, due: DueStore, schedule: Schedule, judge: Judge | None = None) -> None:
        self.tracker = tracker
        self.settings = tracker.settings
        self.due = due
        self.schedule = schedule
        # Without an evaluation queue, judged here, their writes together; one that fails keeps its rows pending.
        self._judge = judge or tracker.evaluate_many
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

    async def after_evaluation(self, view: SessionView, now: datetime, writes: JudgingWrites) -> None:
        """Raise the start and summary notices the session has earned, and move its timers: added to the judging's writes."""
        row, state = view.row, view.state
        heard = view.last_heard
        notices = session_notices(row.id, state, view.client_code, view.checklist, settled(heard, now))
        for notice in notices.due:
            if notice.key in view.notice_keys:  # raised before: raising it again would only write nothing
                continue
            writes.raise_notice(NoticeSpec(row.therapist_id, row.id, notice.kind, notice.key, notice.at, notice.message), now)
        wanted = session_timers(row.id, row.therapist_id, state, self.settings, now, heard)
        wanted += settle_timers(row.id, row.therapist_id, notices, heard)
        wanted += [
            DueWork(notice_settle_key(row.id, f"{NOTE_PROMPT}:{change_id}"), NOTICE_SETTLE, due, row.therapist_id, row.id)
            for change_id, due in view.prompts_waiting.items()
        ]
        keys = {w.key for w in wanted}
        pending = {r.work.key: r for r in view.pending_timers}  # read with the judging's other reads
        stale = [
            r for r in pending.values()
            if r.work.key not in keys and r.work.kind in (VIDEO_OFF_CHECK, WATCHDOG, NOTICE_SETTLE) and r.id not in self._firing
        ]
        planned = [w for w in wanted if (kept := pending.get(w.key)) is None or kept.work != w]  # pending as wanted: no write
        writes.cancelled += [(r.id, now) for r in stale]
        writes.timers += [(w, now) for w in planned]
        if stale or planned:
            writes.after.append(lambda written: self._scheduled(written, stale, planned))

    def _scheduled(self, written: Written, cancelled: list[DueRow], planned: list[DueWork]) -> None:
        """Have the schedule follow timers a judging cancelled and planned, once they are committed."""
        for row in cancelled:
            self.schedule.remove(row.id)
            if row.id in written.cancelled:
                _LOGGER.info("cancelled %s %s", row.work.kind, row.id)
        for work in planned:
            kept = written.timers.get(work.key)
            if kept is not None and kept.id not in self._firing:  # a row being fired is rescheduled when it is done
                self.schedule.add(kept)

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

    async def heard(self, row_ids: set[int]) -> None:
        """Follow rows written, moved or finished elsewhere (read in one query): wake up for the pending ones, not the others."""
        rows = {row.id: row for row in await self.due.among(sorted(row_ids))}
        for row_id in row_ids - self._firing:  # a row being fired is rescheduled when it is done
            row = rows.get(row_id)
            if row is not None and row.pending:
                self.schedule.add(row)
            else:
                self.schedule.remove(row_id)

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

    async def catch_up(self, row_ids: list[int]) -> None:
        """Carry out rows overdue together (after a start): the reminders in one write, each session judged once for all its checks.

        One read of the pending rows; a session whose judging fails keeps its rows pending, as `fire` would.
        """
        wanted = set(row_ids)
        rows = [r for r in await self.due.pending() if r.id in wanted and r.id not in self._firing]
        together = [r for r in rows if r.work.kind in TOGETHER]
        for row in rows:
            if row.work.kind not in TOGETHER:  # a watchdog, a purge, a platform's own: few, one at a time, first
                await self.fire(row.id)
        self._firing.update(r.id for r in together)
        try:
            await self._remind_all([r for r in together if r.work.kind == CHECKLIST_REMINDER])
            later = await self._judge_all([r for r in together if r.work.kind in JUDGED])
        finally:
            self._firing.difference_update(r.id for r in together)
        for moved in later:  # deliveries heard meanwhile moved these: they wait for their new time
            self.schedule.add(moved)

    async def _remind_all(self, rows: list[DueRow]) -> None:
        if not rows:
            return
        settings = await self.tracker.clients.settings()
        now = self.tracker.clock()
        notices = [reminder_notice(row, settings, self.tracker.checklist_points, now) for row in rows]
        finished = [(row.id, FIRED if notice else EXPIRED, notice) for row, notice in zip(rows, notices, strict=True)]
        for new in await self.due.finish_many(finished, now):
            self.tracker.board.publish(new)
        _LOGGER.info("caught up %d overdue checklist reminders", len(rows))

    async def _judge_all(self, rows: list[DueRow]) -> list[DueRow]:
        """Judge the rows' sessions, each once, then finish the rows; return those moved later meanwhile (still pending)."""
        if not rows:
            return []
        judged = await self._judge(list(dict.fromkeys(r.work.session_id or "" for r in rows)))
        rows = [r for r in rows if (r.work.session_id or "") in judged]
        after = {r.id: r for r in await self.due.pending()} if any(r.work.kind == NOTICE_SETTLE for r in rows) else {}
        later = [after[r.id] for r in rows if r.id in after and after[r.id].work.due_at > r.work.due_at]
        moved = {r.id for r in later}
        await self.due.finish_many([(r.id, FIRED, None) for r in rows if r.id not in moved], self.tracker.clock())
        _LOGGER.info("caught up %d overdue session checks, judging %d sessions", len(rows) - len(moved), len(judged))
        return later

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
