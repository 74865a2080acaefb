"""`GET /api/sessions` from the rows kept at each judging: the same bytes as judging every session afresh, on both stores.

Each test stores varied sessions through the real tracker and evaluation queue (the meeting of the Zoom fixture,
ended and client C-17's; one live with no client known; one that cannot be judged; another therapist's), then
reads the listing through the real app and HTTP stack.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from bot.core import events as ev
from bot.core.settings import ClientProfile
from bot.storage import schema
from bot.storage.retention import Retention
from bot.storage.session_list import SessionList
from bot.storage.store import session_id_for
from bot.tracking.client_records import ClientRecords
from bot.web import keys
from bot.web.app import create_app
from tests.conftest import THERAPIST_A_HOST, THERAPIST_B_HOST, TOKEN_A, TOKEN_B
from tests.integrations.zoom.test_webhook import replay

A, B = {"Authorization": f"Bearer {TOKEN_A}"}, {"Authorization": f"Bearer {TOKEN_B}"}
FIELDS = ("session_id", "platform", "meeting", "client_code", "status", "started_at", "ended_at")
LIVE = ev.MeetingRef("zoom", "live-occurrence==", "86000000001", THERAPIST_A_HOST)
BROKEN = ev.MeetingRef("zoom", "broken-occurrence==", "86000000002", THERAPIST_A_HOST)
OTHERS = ev.MeetingRef("zoom", "others-occurrence==", "86000000003", THERAPIST_B_HOST)
LIVE_ID, BROKEN_ID, OTHERS_ID = (session_id_for("zoom", m.occurrence_id) for m in (LIVE, BROKEN, OTHERS))


async def record(client: Any, meeting: ev.MeetingRef, start: datetime, ended: bool) -> None:
    """Store a meeting's events through the tracker and queue its judging, as a webhook does."""
    person = ev.ParticipantRef(user_id="9", stable_id=f"p-{meeting.meeting_id}", name="Someone")
    happened: list[ev.MeetingEvent] = [ev.MeetingStarted(meeting, start), ev.ParticipantJoined(meeting, start + timedelta(minutes=1), participant=person)]
    if ended:
        happened.append(ev.MeetingEnded(meeting, start + timedelta(minutes=50)))
    recorded = await client.app[keys.TRACKER].record(meeting, [(f"{meeting.occurrence_id}:{i}", e) for i, e in enumerate(happened)])
    client.app[keys.EVALUATION].submit(recorded.session_id)


@pytest.fixture
async def client(aiohttp_client, make_settings, storage_url, meeting_deliveries, monkeypatch):
    client = await aiohttp_client(create_app(make_settings(storage_url)))
    await replay(client, meeting_deliveries)
    tracker = client.app[keys.TRACKER]
    real_judge_client = tracker._judge_client

    async def judge_client(row, settings, now):  # what every judging (state, judge, view, evaluate) goes through
        if row.id == BROKEN_ID:
            raise OverflowError("date value out of range")  # as a stored row the fold cannot take would
        return await real_judge_client(row, settings, now)

    monkeypatch.setattr(tracker, "_judge_client", judge_client)
    now = datetime.now(timezone.utc)
    for meeting, start, ended in ((BROKEN, now - timedelta(hours=3), True), (OTHERS, now - timedelta(hours=2), True), (LIVE, now - timedelta(minutes=20), False)):
        await record(client, meeting, start, ended)
    await client.app[keys.EVALUATION].drain()
    return client


async def judged_listing(client: Any, headers: dict[str, str]) -> bytes:
    """Return the listing as judging every session afresh makes it: from each session's summary, or "unreadable"."""
    expected = []
    for row in await client.app[keys.STORE].sessions("t1" if headers is A else "t2"):
        response = await client.get(f"/api/sessions/{row.id}/summary", headers=headers)
        if response.status == 409:
            expected.append({"session_id": row.id, "platform": row.platform, "status": "unreadable",
                             "reason": "this session's stored events cannot be judged; its other data and other sessions are kept"})
        else:
            summary = await response.json()
            expected.append({k: summary[k] for k in FIELDS})
    return json.dumps(expected).encode()


async def listing(client: Any, headers: dict[str, str] = A, query: str = "") -> bytes:
    response = await client.get(f"/api/sessions{query}", headers=headers)
    assert response.status == 200
    return await response.read()


async def kept(client: Any) -> dict[str, Any]:
    t = schema.session_listing
    async with client.app[keys.STORE].engine.connect() as conn:
        return {r.session_id: r for r in (await conn.execute(select(t))).all()}


async def change(client: Any, statement: Any) -> None:
    async with client.app[keys.STORE].engine.begin() as conn:
        await conn.execute(statement)


def refuse_judging(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any judging fail the test: what is listed now comes from the kept rows alone (the broken session aside)."""
    tracker, real_view = client.app[keys.TRACKER], client.app[keys.TRACKER].view

    async def view(row, now=None, names=False):
        assert row.id == BROKEN_ID, "a session with a kept row was judged again"
        return await real_view(row, now, names=names)

    monkeypatch.setattr(tracker, "view", view)


async def test_the_listing_is_byte_for_byte_the_judged_one_and_reads_the_rows_kept_at_judging(client, monkeypatch):
    expected_a, expected_b = await judged_listing(client, A), await judged_listing(client, B)
    statuses = [(s["session_id"], s["status"]) for s in json.loads(expected_a)]
    assert [s for _, s in statuses] == ["in_progress", "unreadable", "ended"] and statuses[0][0] == LIVE_ID
    assert set(await kept(client)) == {LIVE_ID, OTHERS_ID, statuses[2][0]}  # every session judged, but the broken one
    refuse_judging(client, monkeypatch)
    assert await listing(client) == expected_a
    assert await listing(client, B) == expected_b
    assert json.loads(await listing(client, query="?limit=1")) == json.loads(expected_a)[:1]
    assert json.loads(await listing(client, query="?platform=zoom&meeting_uuid=live-occurrence%3D%3D")) == json.loads(expected_a)[:1]
    assert await listing(client, query="?platform=teams") == b"[]"


async def test_a_session_without_its_row_is_judged_when_listed_and_its_row_kept(client):
    expected = await judged_listing(client, A)
    await change(client, delete(schema.session_listing))  # as stored by the version before the rows
    assert await listing(client) == expected
    assert set(await kept(client)) == {s["session_id"] for s in json.loads(expected) if s["status"] != "unreadable"}
    assert await listing(client) == expected


@pytest.mark.parametrize("values", [
    {"status": "no such status"}, {"started_at": "not a time"}, {"ended_at": None}, {"started_at": "2026-02-30T10:00:00Z"},
    {"client_code": "C-99", "profiles": "a mark of other profiles"},
])
async def test_a_row_that_cannot_be_read_or_is_stale_is_judged_again_and_mended(client, values):
    expected = await judged_listing(client, A)
    ended_id = json.loads(expected)[2]["session_id"]
    await change(client, update(schema.session_listing).where(schema.session_listing.c.session_id == ended_id).values(**values))
    assert await listing(client) == expected
    assert (await kept(client))[ended_id].status == "ended"


async def test_another_therapists_rows_are_never_listed_even_one_claiming_a_session(client):
    expected_a = await judged_listing(client, A)
    assert [s["session_id"] for s in json.loads(await listing(client, B))] == [OTHERS_ID]
    # A row that says it is therapist B's, for therapist A's live session, shows neither to B nor to A.
    row = (await kept(client))[LIVE_ID]
    forged = {**row._asdict(), "therapist_id": "t2", "client_code": "FORGED"}
    await change(client, delete(schema.session_listing).where(schema.session_listing.c.session_id == LIVE_ID))
    await change(client, insert(schema.session_listing).values(**forged))
    assert [s["session_id"] for s in json.loads(await listing(client, B))] == [OTHERS_ID]
    assert await listing(client) == expected_a
    assert (await kept(client))[LIVE_ID].therapist_id == "t1"


async def test_a_client_profile_change_relists_the_sessions_it_names(client, monkeypatch):
    assert json.loads(await listing(client))[0]["client_code"] is None  # the live session: no profile knows its meeting
    await client.app[keys.TRACKER].clients.add(ClientProfile("C-40", "t1", linked_meeting_ids=(LIVE.meeting_id,), source="database"))
    expected = await judged_listing(client, A)
    assert json.loads(expected)[0]["client_code"] == "C-40"
    assert await listing(client) == expected
    assert (await kept(client))[LIVE_ID].client_code == "C-40"
    refuse_judging(client, monkeypatch)  # judged once under the new profiles: read from the rows again
    assert await listing(client) == expected


async def test_a_settings_file_change_relists_after_a_restart(client, aiohttp_client, make_settings, storage_url, meeting_deliveries):
    await client.close()
    clients = [{"code": "C-17", "therapist": "t1", "zoom_meeting_ids": ["85746065432"]}, {"code": "C-50", "therapist": "t1", "zoom_meeting_ids": [LIVE.meeting_id]}]
    again = await aiohttp_client(create_app(make_settings(storage_url, clients=clients)))
    listed = json.loads(await listing(again))
    assert [s["client_code"] for s in listed] == ["C-50", None, "C-17"]  # the broken session judges here: no fault is put on it
    assert (await kept(again))[LIVE_ID].client_code == "C-50"


async def test_a_newer_judgment_is_never_replaced_by_an_older_one(client):
    rows = SessionList(client.app[keys.STORE].engine)
    (found,) = [r for r in await rows.rows("t1") if r.session.id == LIVE_ID]
    assert found.entry is not None and found.profiles is not None
    judged_at = datetime.fromisoformat((await kept(client))[LIVE_ID].judged_at.replace("Z", "+00:00"))
    older = type(found.entry)("C-OLD", "ended", found.entry.started_at, found.entry.started_at)
    await rows.keep(found.session, older, found.profiles, judged_at - timedelta(seconds=1))
    assert (await kept(client))[LIVE_ID].client_code is None
    await rows.keep(found.session, older, found.profiles, judged_at + timedelta(seconds=1))
    assert (await kept(client))[LIVE_ID].client_code == "C-OLD"
    before = (await kept(client))[LIVE_ID]
    await rows.keep(found.session, older, found.profiles, judged_at + timedelta(seconds=2))  # judged again, the same
    assert (await kept(client))[LIVE_ID] == before  # a judgment that changes nothing writes nothing


async def test_a_purged_or_forgotten_session_takes_its_row_with_it(client):
    ended_id = json.loads(await listing(client))[2]["session_id"]
    tracker = client.app[keys.TRACKER]
    records = ClientRecords(tracker)
    await records.forget(await records.find("C-17", "t1"))
    assert ended_id not in await kept(client)
    # A row whose session went while it was being judged is purged as a leftover; live sessions keep theirs.
    await change(client, insert(schema.session_listing).values(
        session_id="s-gone", therapist_id="t1", client_code="C-1", status="ended", started_at=None, ended_at=None, profiles="x", judged_at="x"
    ))
    now = datetime.now(timezone.utc)
    removal = await Retention(tracker.store.engine).purge(now + timedelta(days=1), now)
    assert removal is not None and removal.counts["session_listing"] == 2  # the other therapist's ended session, and the leftover
    assert set(await kept(client)) == {LIVE_ID}
    async with tracker.store.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(schema.session_listing))).scalar() == 1
