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

_NOBODY = Roster()  # a state's new facts are judged without its people: who is there is judged whole, each time


@dataclass(frozen=True)
class Judged:
    """A session's alerts and changes as of one look, with what its summary reads of them."""

    alerts: list[Alert]
    changes: list[Change]
    alert_rows: list[dict[str, Any]]
    closed: int  # how many of its camera-off intervals were closed


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
        self._shown: dict[str, tuple[Change, tuple[str | None, str | None], dict[str, Any]]] = {}  # by change id
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
        changes = list(self._changes)
        for change in changes_found(dataclasses.replace(state, video_off=off[closed:], framing=[]), now):  # the open interval
            changes.insert(*self._placed(change))
        return Judged(alerts, changes, rows, closed)

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
        changes = []
        for change in judged.changes:
            asked = answer_to(change.id, prompt_ids, answers)
            kept = self._shown.get(change.id)
            if kept is not None and kept[0] is change and kept[1] == asked:
                changes.append(kept[2])
                continue
            changes.append(row := change_row(shown(change, *asked)))
            self._shown[change.id] = (change, asked, row)  # the open interval's is built anew: another change each look
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
        self._off_rows.extend(off_row(i, i.seconds()) for i in new.video_off)
        self._taken = counts

    def _placed(self, change: Change) -> tuple[int, Change]:
        """Return where a change found after those taken goes among them, and the change with its repeat numbered."""
        key = change_order(change)
        place = bisect.bisect_right(self._change_keys, key)
        return place, repeated(change, place - bisect.bisect_left(self._change_keys, key, hi=place) + 1)
