"""Stored times round-trip, whatever the year (bot/core/timefmt.py)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.core.timefmt import from_iso, to_stamp


@pytest.mark.parametrize("year", [1, 99, 999, 2026, 9999])
def test_a_stamp_reads_back_and_sorts_in_time_order(year):
    at = datetime(year, 12, 31, 23, 59, 59, 123456, tzinfo=timezone.utc)
    assert from_iso(to_stamp(at)) == at
    assert to_stamp(at)[:4] == f"{year:04d}"


def test_a_stamp_an_older_version_wrote_with_an_unpadded_year_still_reads():
    assert from_iso("1-01-01T00:00:00.000000Z") == datetime(1, 1, 1, tzinfo=timezone.utc)
