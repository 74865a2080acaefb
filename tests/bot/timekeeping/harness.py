"""Test helpers: the service's timekeeping on a controlled clock, with a schedule that only records."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable

from bot.core import events as ev
from bot.core.due_work import DueRow
from bot.core.settings import Settings
from bot.storage.due_store import DueStore
from bot.storage.store import Store, create_engine, session_id_for
from bot.timekeeping.timekeeper import Timekeeper
from bot.tracking.notice_board import NoticeBoard
from bot.tracking.tracker import SessionTracker
from tests.conftest import THERAPIST_A_HOST, storage_keys

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
MEETING = ev.MeetingRef("zoom", "uuid-occurrence-1==", "85746065432", THERAPIST_A_HOST)
SESSION = session_id_for("zoom", MEETING.occurrence_id)
THERAPIST = ev.ParticipantRef(user_id="16778240", stable_id="P-T", account_id=THERAPIST_A_HOST, name="Dr T")
CLIENT = ev.ParticipantRef(user_id="16779264", stable_id="P-C", name="Client Person")


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class RecordingSchedule:
    """Remembers what would be woken up when; the test fires rows itself as the clock moves."""

    jobs: dict[int, datetime] = field(default_factory=dict)

    def add(self, row: DueRow) -> None:
        self.jobs[row.id] = row.work.due_at

    def remove(self, row_id: int) -> None:
        self.jobs.pop(row_id, None)

    def keep_only(self, pending: Iterable[DueRow]) -> None:
        ids = {row.id for row in pending}
        self.jobs = {k: v for k, v in self.jobs.items() if k in ids}

    def due(self, now: datetime) -> list[int]:
        return sorted(k for k, at in self.jobs.items() if at <= now)


class Harness:
    """A store, tracker and timekeeper on one database, judged on `clock`."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings, self.clock = settings, clock
        self.engine = create_engine(settings.storage.url)
        self.store = Store(self.engine, storage_keys())
        self.board = NoticeBoard(self.store)
        self.tracker = SessionTracker(settings, self.store, self.board, clock)
        self.schedule = RecordingSchedule()
        self.due = DueStore(self.store)
        self.keeper = Timekeeper(self.tracker, self.due, self.schedule)
        self.tracker.after_evaluation.append(self.keeper.after_evaluation)

    async def __aenter__(self) -> "Harness":
        await self.store.upgrade()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.dispose()

    async def happen(self, *events: ev.MeetingEvent) -> None:
        """Record events (keyed by kind and time) as a webhook would, then judge the session."""
        keyed = [(f"{e.kind}:{e.at.isoformat()}:{getattr(e, 'on', '')}", e) for e in events]
        await self.tracker.record(MEETING, keyed)
        await self.tracker.evaluate(SESSION)

    async def run_due(self) -> None:
        """Fire every job due by the clock's now, as the scheduler would."""
        for row_id in self.schedule.due(self.clock()):
            self.schedule.remove(row_id)
            await self.keeper.fire(row_id)

    async def notices(self, kind: str | None = None) -> list:
        return list(reversed(await self.store.notices("t1", kind=kind)))


def started(at: datetime, minutes: int = 50) -> ev.MeetingStarted:
    return ev.MeetingStarted(meeting=MEETING, at=at, scheduled_start=at.strftime("%Y-%m-%dT%H:%M:%SZ"), scheduled_minutes=minutes)


def joined(who: ev.ParticipantRef, at: datetime) -> ev.ParticipantJoined:
    return ev.ParticipantJoined(meeting=MEETING, at=at, participant=who)


def left(who: ev.ParticipantRef, at: datetime) -> ev.ParticipantLeft:
    return ev.ParticipantLeft(meeting=MEETING, at=at, participant=who)


def video(on: bool, at: datetime) -> ev.VideoStateChanged:
    return ev.VideoStateChanged(meeting=MEETING, at=at, participant=CLIENT, on=on)


def ended(at: datetime) -> ev.MeetingEnded:
    return ev.MeetingEnded(meeting=MEETING, at=at)
