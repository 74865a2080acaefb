"""Build a live session's alerts, changes and summary rows once each: what later events cannot change is kept, per fold."""
from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from .alerts import Alert, AlertSettings, alert_order, find_alerts
from .changes import Change, answer_to, change_order, changes_found, note_answers, repeated, session_changes, shown
from .participants import Roster
from .session import MeetingState
from .summary import SessionRecord, SummaryRows, alert_row, change_row, off_row, people_labels, summary_document, timeline_row

_UNSHOWN: dict[str, Any] = {}  # a change's row not built yet
_NOBODY = Roster()  # a state's new facts are judged without its people: who is there is judged whole, each time


@dataclass(frozen=True)
class Judged:
    """A session's alerts and changes as of one look, with what its summary reads of them."""

    alerts: list[Alert]
    changes: list[Change]
    alert_rows: list[dict[str, Any]]
    closed: int  # how many of its camera-off intervals were closed
    version: int = -1  # what was taken when it was judged (-1: judged whole, an older state than taken)
    open_changes: tuple[tuple[int, Change], ...] = ()  # the open interval's change and its place among the changes


class SummarySoFar:
    """What is built of one fold generation's alerts, changes and summary rows (see SessionFold: its state only grows).

    A closed camera-off interval, a framing change, a share, a recording and a timeline entry never change
    in a generation, so each one's alerts, change and rows are built once; only the open interval and the
    people are judged at every look. Every answer equals the one built whole from the same state
    (find_alerts, session_changes, build_summary with with_notes).
    """

    def __init__(self, generation: int, settings: AlertSettings) -> None:
        self.generation = generation
        self._settings = settings
        self._taken = (0, 0, 0, 0)  # closed intervals, framing changes, shares and recordings built so far
        self._alerts: list[Alert] = []  # of what is taken, in order, with their order's keys and rows
        self._alert_keys: list[tuple[datetime, str, str]] = []
        self._alert_rows: list[dict[str, Any]] = []
        self._changes: list[Change] = []  # of what is taken, in order, with their order's keys (ids not numbered)
        self._change_keys: list[tuple[datetime, str]] = []
        self._off_rows: list[dict[str, Any]] = []  # of the closed intervals, in order
        self._change_rows: list[dict[str, Any]] = []  # theirs, in the same order (_UNSHOWN: not built yet)
        self._asked: list[tuple[str | None, str | None]] = []  # the prompt id and note each row shows
        self._rows_for: tuple[Mapping[str, int], dict[str, str]] | None = None  # the prompts and notes they were built with
        self._version = 0  # grows with every take
        self._labels: dict[int, str] = {}
        self._timeline_rows: list[dict[str, Any]] = []  # named by _labels

    def judged(self, state: MeetingState, now: datetime) -> Judged:
        """Return the alerts (find_alerts) and changes (session_changes) of `state`, a state of this generation, as of `now`."""
        off = state.video_off
        closed = len(off) - (1 if off and off[-1].end is None else 0)
        counts = (closed, len(state.framing), len(state.client_shares), len(state.recordings))
        if any(count < taken for count, taken in zip(counts, self._taken, strict=True)):  # a state older than one taken
            alerts = find_alerts(state, self._settings, now)
            return Judged(alerts, session_changes(state, now), [alert_row(a) for a in alerts], closed)
        self._take(state, counts, now)
        alerts, rows = list(self._alerts), list(self._alert_rows)
        people_and_open = dataclasses.replace(state, video_off=off[closed:], framing=[], client_shares=[], recordings=[])
        for n, alert in enumerate(find_alerts(people_and_open, self._settings, now)):  # in order: each lands after the last
            place = bisect.bisect_right(self._alert_keys, alert_order(alert)) + n
            alerts.insert(place, alert)
            rows.insert(place, alert_row(alert))
        changes, open_changes = list(self._changes), []
        for change in changes_found(dataclasses.replace(state, video_off=off[closed:], framing=[]), now):  # the open interval
            open_changes.append(placed := self._placed(change))
            changes.insert(*placed)
        return Judged(alerts, changes, rows, closed, self._version, tuple(open_changes))

    def summary(
        self, record: SessionRecord, state: MeetingState, judged: Judged, prompt_ids: Mapping[str, int], now: datetime, names: bool = False
    ) -> dict[str, Any]:
        """Return build_summary's document for `state` as `judged`, its changes shown with their prompts and notes."""
        labels = people_labels(state, record.client_code)
        if labels != self._labels:  # another client code: every timeline row names the people anew
            self._labels, self._timeline_rows = labels, []
        timeline = state.timeline
        self._timeline_rows.extend(timeline_row(t, labels) for t in timeline[len(self._timeline_rows) :])
        answers = note_answers(record.notes)
        if judged.version == self._version:
            changes = self._shown_changes(prompt_ids, answers)
            for place, change in judged.open_changes:
                changes.insert(place, change_row(shown(change, *answer_to(change.id, prompt_ids, answers))))
        else:  # judged whole, or before a newer state was taken: its changes are not those kept
            changes = [change_row(shown(c, *answer_to(c.id, prompt_ids, answers))) for c in judged.changes]
        open_rows = [off_row(i, i.seconds(state.ended_at or now)) for i in state.video_off[judged.closed :]]
        rows = SummaryRows(self._off_rows[: judged.closed] + open_rows, judged.alert_rows, changes, self._timeline_rows[: len(timeline)])
        return summary_document(record, state, labels, rows, names)

    def _take(self, state: MeetingState, counts: tuple[int, int, int, int], now: datetime) -> None:
        """Build the alerts, changes and rows of what `state` holds beyond what is taken (its open interval aside)."""
        if counts == self._taken:
            return
        closed, framing, shares, recordings = self._taken
        new = dataclasses.replace(
            state,
            roster=_NOBODY,
            video_off=state.video_off[closed : counts[0]],
            framing=state.framing[framing:],
            client_shares=state.client_shares[shares:],
            recordings=state.recordings[recordings:],
        )
        for alert in find_alerts(new, self._settings, now):
            key = alert_order(alert)
            place = bisect.bisect_right(self._alert_keys, key)
            self._alert_keys.insert(place, key)
            self._alerts.insert(place, alert)
            self._alert_rows.insert(place, alert_row(alert))
        for change in changes_found(new, now):  # the camera's in order, then the framing's: repeats numbered as found
            place, numbered = self._placed(change)
            self._change_keys.insert(place, change_order(change))
            self._changes.insert(place, numbered)
            self._change_rows.insert(place, _UNSHOWN)
            self._asked.insert(place, (None, None))
            self._rows_for = None
        self._off_rows.extend(off_row(i, i.seconds()) for i in new.video_off)
        self._taken = counts
        self._version += 1

    def _shown_changes(self, prompt_ids: Mapping[str, int], answers: dict[str, str]) -> list[dict[str, Any]]:
        """Return the rows of the changes taken, with their prompts and notes: built again only where those changed."""
        if self._rows_for is None or self._rows_for != (prompt_ids, answers):
            for n, change in enumerate(self._changes):
                asked = answer_to(change.id, prompt_ids, answers)
                if self._change_rows[n] is _UNSHOWN or self._asked[n] != asked:
                    self._asked[n], self._change_rows[n] = asked, change_row(shown(change, *asked))
            self._rows_for = (prompt_ids, answers)
        return list(self._change_rows)

    def _placed(self, change: Change) -> tuple[int, Change]:
        """Return where a change found after those taken goes among them, and the change with its repeat numbered."""
        key = change_order(change)
        place = bisect.bisect_right(self._change_keys, key)
        return place, repeated(change, place - bisect.bisect_left(self._change_keys, key, hi=place) + 1)
