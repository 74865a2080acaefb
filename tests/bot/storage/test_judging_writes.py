"""Tests of bot/storage/judging_writes.py: judgings' writes joined into one."""
from __future__ import annotations

import functools
from datetime import datetime, timezone

from bot.core.due_work import NoticeSpec
from bot.storage.judging_writes import JudgingWrites, Written
from bot.storage.notices import NoticeRow

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def _judging(session_id: str, notices: int, told: dict[str, list[str]]) -> JudgingWrites:
    """Return one session's writes, raising `notices` notices, whose `after` keeps the keys it is told were written."""
    writes = JudgingWrites()
    for n in range(notices):
        writes.raise_notice(NoticeSpec("t1", session_id, "client_video_off", f"{session_id}:{n}", NOW, "camera off"), NOW)
    writes.after.append(lambda written: told.setdefault(session_id, []).extend(row.key for row in written.notices if row))
    return writes


def test_each_judging_is_told_only_its_own_notices() -> None:
    told: dict[str, list[str]] = {}
    judgings = [_judging("s1", 2, told), _judging("s2", 0, told), _judging("s3", 3, told), _judging("s4", 1, told)]
    joined = functools.reduce(JudgingWrites.joined, judgings, JudgingWrites())
    rows = [NoticeRow(n, "t1", spec.session_id, spec.kind, spec.key, "", "", "") for n, (spec, _) in enumerate(joined.notices)]
    for then in joined.after:
        then(Written(list(rows), {}, set()))
    assert told == {"s1": ["s1:0", "s1:1"], "s2": [], "s3": ["s3:0", "s3:1", "s3:2"], "s4": ["s4:0"]}
