"""Record a meeting's events, judge the session as of now, and raise the alerts it has earned."""
from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Iterable, Sequence

from bot.config.checklist_file import load_checklist
from bot.core.alerts import Alert, find_alerts
from bot.core.changes import CAMERA, Change, session_changes
from bot.core.checklist import Checklist
from bot.core.clients import client_code, email_digests, name_digests, role_rules, therapist_for_meeting
from bot.core.due_work import DueRow, NoticeSpec
from bot.core.events import (
    MeetingEvent,
    MeetingRef,
    ParticipantRef,
    StreamInterrupted,
    StreamStarted,
    StreamStopped,
)
from bot.core.participants import RoleRules
from bot.core.record import ChecklistItem
from bot.core.reminders import SUMMARY_READY
from bot.core.session import MeetingState, from_instant
from bot.core.settings import Settings
from bot.core.summary import SessionRecord
from bot.core.validity import accepted
from bot.metrics import Metrics
from bot.storage.appointments import AppointmentBook
from bot.storage.client_profiles import ClientRecords
from bot.storage.due_store import DueStore, SessionDue
from bot.storage.judging_writes import JudgingWriter, JudgingWrites, Written
from bot.storage.session_clients import SessionClients
from bot.storage.shared_reads import shared_reads
from bot.storage.store import SessionRow, Store, session_id_for
from bot.storage.stream_leases import Lease
from bot.storage.ticks import TickStore

from . import warm_up
from .client_book import ClientBook
from .notice_board import NoticeBoard, SessionChanged
from .prompts import NotePrompter
from .session_folds import SessionFolds

_LOGGER = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the current time, aware, in UTC (the service's clock; tests and the demo pass their own)."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SessionView:
    """A session judged at one instant: its state, the alerts earned, and the summary (empty if judged without it: `evaluate`)."""

    row: SessionRow
    state: MeetingState
    alerts: list[Alert]
    summary: dict[str, Any]
    checklist: Sequence[ChecklistItem] = ()  # the summary's checklist, with the times for judging
    changes: Sequence[Change] = ()  # of the client's camera and framing, each a note prompt's subject
    prompts_waiting: dict[str, datetime] = dataclasses.field(default_factory=dict)  # change id: when it is judged again
    client_code: str | None = None  # the code of the client recognised in it (the summary's "client_code")
    last_heard: datetime | None = None  # when an event of its meeting was last received (None: never)
    notice_keys: frozenset[str] = frozenset()  # of the notices raised for it before this judging (read by `evaluate`; else none)
    pending_timers: Sequence[DueRow] = ()  # its timers pending before this judging, soonest first (read by `evaluate`; else none)


EvaluationHook = Callable[[SessionView, datetime, JudgingWrites], Awaitable[None]]  # adds its writes to the judging's
# A stream's events name no host and no person, and can beat the meeting's start to us: they are
# kept for the session that may follow (its stream opens then). Any other event no therapist's
# session owns is dropped: stored, it could only pollute a session it was never checked against.
_AWAITING_SESSION = (StreamStarted, StreamStopped, StreamInterrupted)


@dataclass(frozen=True)
class Recorded:
    """What became of a delivery: whether it was stored, and the session it belongs to (None: none yet)."""

    stored: bool
    session_id: str | None = None


class SessionTracker:
    """The service's use of the core: events in, state and summaries out, alerts raised once."""

    def __init__(
        self, settings: Settings, store: Store, board: NoticeBoard, clock: Clock, checklist: Checklist | None = None, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()  # a command's own, unscraped: only the service's are
        self.store = store
        self.board = board
        self.clock = clock
        self.checklist_points = checklist or load_checklist(settings.reminders.checklist_file)
        self.ticks = TickStore(store.engine)
        self.appointments = AppointmentBook(DueStore(store), timedelta(hours=settings.reminders.horizon_hours))
        self.prompter = NotePrompter(settings, store)
        self.clients = ClientBook(settings, ClientRecords(store.engine), clock, self.keep_client_codes)
        self.session_clients = SessionClients(store.engine)
        self._folds = SessionFolds(store)
        self.writer = JudgingWriter(store)
        self._profiles = _ByProfiles(None)
        # Called at every evaluation with the view judged and its writes (the timers plan their next work there).
        self.after_evaluation: list[EvaluationHook] = []

    async def record(self, meeting: MeetingRef, keyed: Sequence[tuple[str, MeetingEvent]], lease: Lease | None = None) -> Recorded:
        """Durably store a delivery's events if a therapist's session owns them (or may, for a stream's).

        Raise EventRejected, storing nothing, if any event's time is not believable; with a stream's `lease`,
        raise LeaseLost, storing nothing, if another instance took the stream.
        """
        now = self.clock()
        keyed = [(key, accepted(event, now)) for key, event in keyed]
        therapist = therapist_for_meeting(self.settings, meeting)
        existing = None if therapist else await self.store.session_for_occurrence(meeting.platform, meeting.occurrence_id)
        owner = therapist.id if therapist else (existing.therapist_id if existing else None)
        awaiting = bool(keyed) and not meeting.host_id and all(isinstance(event, _AWAITING_SESSION) for _, event in keyed)
        if owner is None and not awaiting:
            _LOGGER.info("ignoring %s meeting %s: no configured therapist hosts it", meeting.platform, meeting.meeting_id or "-")
            return Recorded(stored=False)
        if lease is None:
            new = await self.store.record_events(owner, meeting, keyed, now)
        else:
            new = await self.store.record_held_events(owner, meeting, keyed, now, lease)
        self.metrics.events_stored.inc(new)
        # DEBUG: a line per webhook would cost as much as the rest of its logging; the access line (with the request id)
        # already traces every delivery.
        _LOGGER.debug(
            "stored %d new of %d event(s) for %s meeting %s", new, len(keyed), meeting.platform, meeting.meeting_id or "-"
        )
        return Recorded(True, session_id_for(meeting.platform, meeting.occurrence_id) if owner else None)

    async def state(self, row: SessionRow, now: datetime | None = None) -> MeetingState:
        """Return the session's state as of `now` (default: the clock), and nothing else: what a stream follows the client by."""
        return (await self._judge_client(row, await self.clients.settings(), now or self.clock()))[0]

    async def _judge(self, row: SessionRow, now: datetime) -> tuple[SessionView, int, SessionDue]:
        """Return the session judged as of `now` for `evaluate` (only its alerts and changes from the instant it is settled up
        to, with its notices and pending timers read), the generation of the fold judged, and what was read of it."""
        state, code, items, generation, due = await self._session(row, now, evaluating=True)
        since = self._folds.settled(row.id, generation)
        judged = state if since is None else from_instant(state, since)
        judged_at = _judged_at(state, now)
        alerts = find_alerts(judged, self.settings.alerts, judged_at)
        changes = session_changes(judged, judged_at)
        view = SessionView(
            row, state, alerts, {}, items, changes, client_code=code, last_heard=self._folds.last_heard(row.id),
            notice_keys=frozenset(due.notice_ids), pending_timers=due.pending,
        )
        return view, generation, due

    async def view(self, row: SessionRow, now: datetime | None = None, names: bool = False) -> SessionView:
        """Return the session as of `now` (default: the clock) with its summary; with `names`, people's kept display names too (see build_summary)."""
        state, code, items, generation, _ = await self._session(row, now := now or self.clock())
        judged_at = _judged_at(state, now)
        so_far = self._folds.summary_so_far(row.id, generation, self.settings.alerts)  # what is settled is built once
        judged = so_far.judged(state, judged_at)
        # Two reads at once: on PostgreSQL each is several round trips (a ping, the query, the rollback).
        notes, prompt_ids = await asyncio.gather(self.store.notes(row.id), self.prompter.prompt_ids(row, judged.changes))
        record = SessionRecord(session_id=row.id, therapist_id=row.therapist_id, client_code=code, checklist=items, notes=notes)
        summary = so_far.summary(record, state, judged, prompt_ids, judged_at, names)
        return SessionView(row, state, judged.alerts, summary, items, judged.changes, client_code=code)

    async def _session(
        self, row: SessionRow, now: datetime, evaluating: bool = False
    ) -> tuple[MeetingState, str | None, list[ChecklistItem], int, SessionDue]:
        """Return the session's state as of `now`, its client's code, its checklist, the generation of the fold judged,
        and what was read with the checklist (`evaluating`: its notices and pending timers too)."""
        settings = await self.clients.settings()
        state, code, generation = await self._judge_client(row, settings, now)
        code = await self._kept_code(row, settings) or code
        items, due = await self._checklist(row, code, state.started_at, evaluating)
        return state, code, items, generation, due

    def forget(self, session_ids: Iterable[str]) -> None:
        """Drop what memory holds of these sessions (purged or forgotten): their events stay the truth."""
        for session_id in session_ids:
            self._folds.forget(session_id)

    async def _judge_client(self, row: SessionRow, settings: Settings, now: datetime) -> tuple[MeetingState, str | None, int]:
        """Return the session's state as of `now`, the code of the client the profiles recognise in it, and the fold's generation."""
        by_profiles = self._by_profiles(settings)
        therapist = settings.therapist(row.therapist_id)
        if therapist is None:  # a therapist removed from the settings: judge with the host alone
            state, generation = await self._folds.state(row, RoleRules(therapist_account_ids=frozenset({row.host_id})), now)
            return state, None, generation
        meeting = row.meeting
        if (rules := by_profiles.rules.get(meeting)) is None:
            rules = by_profiles.rules[meeting] = role_rules(settings, therapist, meeting)  # keyed digests: worked out once
        # A row stored before times were checked must not break the session: what cannot be true is left out.
        state, generation = await self._folds.state(row, rules, now)
        refs = tuple(state.roster.client.refs) if state.roster.client else ()
        if (meeting, refs) not in by_profiles.codes:
            emails, names = {r.email_hash for r in refs if r.email_hash}, {r.name_digest for r in refs if r.name_digest}
            accounts = frozenset(r.account_id for r in refs if r.account_id)
            by_profiles.codes[meeting, refs] = client_code(settings, therapist, meeting, emails, names, accounts)
        return state, by_profiles.codes[meeting, refs], generation

    def _by_profiles(self, settings: Settings) -> _ByProfiles:
        """Return what was worked out from these settings' profiles (read again every few seconds: then worked out anew)."""
        if self._profiles.settings is not settings:
            self._profiles = _ByProfiles(settings)
        return self._profiles

    async def _kept_code(self, row: SessionRow, settings: Settings) -> str | None:
        """Return the client code kept for the session, if any: read once for each reading of the profiles.

        A code is kept before a profile changes (keep_client_codes), so a change to the profiles read anew
        is what can bring one.
        """
        kept = self._by_profiles(settings).kept
        if row.id not in kept:
            kept[row.id] = await warm_up.code(self.session_clients, row.id)
        return kept[row.id]

    async def keep_client_codes(self, therapist_id: str, code: str) -> None:
        """Keep the code on every session of the therapist's that client `code` is now: before its profile changes.

        A session's meeting id decides its client when some profile lists it; only the other sessions
        are judged from their events, and only if this client is recognised by email or name.
        """
        settings = await self.clients.settings()
        own = [c for c in settings.clients if c.therapist == therapist_id]
        profile = next((c for c in own if c.code == code), None)
        if profile is None:
            return
        by_meeting = {m: c.code for c in reversed(own) for m in c.meeting_ids}  # the first profile listing it wins
        key = settings.privacy.data_key
        by_people = bool(email_digests(profile, key) or name_digests([profile], key) or profile.entra_ids)
        kept, now, named = await self.session_clients.kept(therapist_id), self.clock(), {}
        for row in await self.store.sessions(therapist_id):
            if row.id in kept:
                continue
            found: str | None
            if row.meeting_id in by_meeting:
                found = by_meeting[row.meeting_id]
            else:
                found = (await self._judge_client(row, settings, now))[1] if by_people else None
            if found == code:
                named[row.id] = code
        await self.session_clients.keep(therapist_id, named)
        _LOGGER.info("kept the client code of %d session(s) before a profile change", len(named))

    async def _checklist(self, row: SessionRow, code: str | None, started: datetime | None, evaluating: bool) -> tuple[list[ChecklistItem], SessionDue]:
        """Return the session's checklist, tailored to the client with profile `code`, with its ticks, and what was read with it
        (`evaluating`: its notices and timers too).

        Points ticked before the call, on the appointment this session fulfils, count as confirmed.
        """
        profile = await self.clients.profile(row.therapist_id, code) if code else None
        appointment, due = await warm_up.appointment(self.appointments, row, started, evaluating)
        ticks = dict(due.ticks)
        if appointment is not None:
            for item_id, at in (await warm_up.ticks(self.ticks, appointment.id)).items():
                ticks[item_id] = min(at, ticks.get(item_id, at))
        return self.checklist_points.items(profile, ticks, row.platform), due

    async def evaluate(self, session_id: str) -> list[Alert]:
        """Raise, once each, the alerts the session has earned by now; return the new ones."""
        writes = JudgingWrites()
        raised = await self._judge_into(session_id, writes)
        await self.writer.write(writes)
        return raised

    async def evaluate_many(self, session_ids: Sequence[str], stop: Callable[[], bool] = lambda: False) -> set[str]:
        """Judge the sessions one after another (none more once `stop()` says so) and commit what they all decided in one
        transaction; return those judged without failing. One whose judging fails writes nothing (logged by id); if the
        shared write fails, each is written alone."""
        judged: dict[str, JudgingWrites] = {}
        waiting = list(reversed(dict.fromkeys(session_ids)))
        async with warm_up.together(self.store, session_ids, self._folds.read_from):  # each kind of read once for them all
            while waiting and not stop():
                # Their reads (the group's, and any a judging makes of its own) share one connection: one that fails
                # gives it back, in case it broke it, and the rest take another.
                async with shared_reads(self.store.engine):
                    while waiting and not stop():
                        session_id, writes = waiting.pop(), JudgingWrites()
                        try:
                            await self._judge_into(session_id, writes)
                        except Exception:  # its timers stay as they were: the next event, start or reconcile judges it again
                            _LOGGER.exception("judging session %s failed", session_id)
                            break
                        judged[session_id] = writes
        try:
            await self.writer.write(functools.reduce(JudgingWrites.joined, judged.values(), JudgingWrites()))
        except Exception:
            _LOGGER.exception("writing %d judged sessions together failed: each is written alone", len(judged))
            for session_id, writes in list(judged.items()):
                try:
                    await self.writer.write(writes)
                except Exception:
                    _LOGGER.exception("writing judged session %s failed", session_id)
                    del judged[session_id]
        return set(judged)

    async def _judge_into(self, session_id: str, writes: JudgingWrites) -> list[Alert]:
        """Judge the session and add what it decided to `writes`; return the alerts it raises, filled in once they are committed."""
        # Every read of a judging on one connection (on PostgreSQL each connection taken costs four round trips), and in
        # two statements most times: the session with its new events; its ticks, appointment, notices and pending timers
        # (none of its own in a group read together: see warm_up).
        async with shared_reads(self.store.engine):
            row = await warm_up.session(session_id, self._folds.session)  # read ahead for a group, or with its new events
            if row is None:
                self._folds.forget(session_id)
                return []
            now = self.clock()
            # Only what may still need raising is judged: the alerts and changes from the settled instant on.
            view, generation, due = await self._judge(row, now)
            known = due.notice_ids  # the alerts, prompts and hooks skip these
            first = len(writes.notices)
            alerts = [
                (alert, writes.raise_notice(NoticeSpec(row.therapist_id, row.id, alert.kind, key, alert.at, alert.message), now))
                for alert in view.alerts
                if (key := f"{row.id}:{alert.key}") not in known
            ]
            waiting = await self.prompter.raise_due(row, view.changes, now, known, writes, self._folds.heard(row.id))
            view = dataclasses.replace(view, prompts_waiting=waiting)
            for hook in self.after_evaluation:
                await hook(view, now, writes)
        summarised = f"{SUMMARY_READY}:{row.id}"
        summarised_now = any(notice.key == summarised for notice, _ in writes.notices[first:])
        raised: list[Alert] = []

        def committed(written: Written) -> None:
            raised.extend(alert for alert, at in alerts if written.notices[at] is not None)
            for notice in written.notices[first:]:
                if notice is not None:
                    self.board.publish(notice)
            self._settle(view, generation)  # only once its notices are committed: what is settled is never judged again
            if view.state.ended and (summarised in known or summarised_now):
                self._folds.forget(row.id)  # over and summarised: a late event or a page reads it all again
            self.board.publish_change(SessionChanged(row.id, row.therapist_id))

        writes.after.append(committed)
        return raised

    def _settle(self, view: SessionView, generation: int) -> None:
        """Settle the session up to its first change that may still move or ask (the camera still off, a prompt
        waiting): everything before it has had its alerts and prompts. A later event in order is never earlier
        than the last one; any other folds the session anew, a new generation, judged whole again."""
        moving = [c.at for c in view.changes if c.id in view.prompts_waiting or (c.source == CAMERA and c.until is None)]
        last = view.state.last_event_at
        if last is not None and not view.state.ended:
            self._folds.settle(view.row.id, generation, min([*moving, last]))


def _judged_at(state: MeetingState, now: datetime) -> datetime:
    """Return the instant a session is judged at: `now`, or its end if that came first."""
    return min(now, state.ended_at) if state.ended_at else now


@dataclass
class _ByProfiles:
    """What the tracker works out from one reading of the client profiles, by session: kept until they are read again."""

    settings: Settings | None
    rules: dict[MeetingRef, RoleRules] = dataclasses.field(default_factory=dict)
    codes: dict[tuple[MeetingRef, tuple[ParticipantRef, ...]], str | None] = dataclasses.field(default_factory=dict)  # by the client's refs
    kept: dict[str, str | None] = dataclasses.field(default_factory=dict)  # the code kept for a session (None: none)
