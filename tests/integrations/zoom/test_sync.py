"""Meeting sync and plan webhooks: the real zoomus against the fake Zoom API, reminders kept in step."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from bot.web import keys
from bot.web.app import create_app
from integrations.zoom.client import ZoomApi
from integrations.zoom.keys import MEETING_SYNC
from integrations.zoom.sync import MeetingSync
from tests.conftest import THERAPIST_A_HOST, signed_headers
from tests.fakes.zoom_api import ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET

NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)


def iso(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def service(aiohttp_client, make_settings, storage_url, zoom):
    zoom_section = {
        "account_id": ACCOUNT_ID, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "api_base_url": f"{zoom.base}/v2", "oauth_url": f"{zoom.base}/oauth/token",
    }
    settings = make_settings(storage_url, zoom=zoom_section, reminders={"sync_interval_minutes": 0})
    return await aiohttp_client(create_app(settings))


async def planned(client) -> list[tuple[str, str]]:
    rows = await client.app[keys.TIMEKEEPER].due.pending(kind="checklist_reminder")
    return sorted((r.work.data["meeting_id"], r.work.data["start"]) for r in rows)


def recurring(meeting_id: int, *hours: float, deleted: float | None = None) -> dict:
    occurrences = [{"occurrence_id": str(n), "start_time": iso(h), "duration": 50, "status": "available"} for n, h in enumerate(hours)]
    if deleted is not None:
        occurrences.append({"occurrence_id": "99", "start_time": iso(deleted), "duration": 50, "status": "deleted"})
    return {"id": meeting_id, "uuid": f"u{meeting_id}==", "host_id": THERAPIST_A_HOST, "type": 8, "duration": 50, "occurrences": occurrences}


async def test_sync_plans_one_reminder_per_occurrence_in_the_horizon_and_drops_removed_meetings(service, zoom):
    zoom.meetings[THERAPIST_A_HOST] = [
        {"id": 85746065432, "type": 2, "start_time": iso(2), "duration": 50},
        {"id": 777, "type": 8, "start_time": iso(3), "duration": 50},  # the listing shows the next occurrence only
        {"id": 333, "type": 3, "duration": 50},  # recurring with no fixed time: nothing to remind
        {"id": 1, "type": 2, "start_time": iso(-1), "duration": 50},  # already started
    ]
    zoom.details["777"] = recurring(777, 3, 20, 30, deleted=4)
    await service.app[MEETING_SYNC].sync_all()
    assert await planned(service) == [("777", iso(3)), ("777", iso(20)), ("85746065432", iso(2))]
    assert ("/v2/meetings/777", {"id": "777"}) in zoom.calls and not any(p == "/v2/meetings/333" for p, _ in zoom.calls)

    zoom.meetings[THERAPIST_A_HOST] = zoom.meetings[THERAPIST_A_HOST][1:]
    await service.app[MEETING_SYNC].sync_all()
    assert await planned(service) == [("777", iso(3)), ("777", iso(20))]
    wakes = service.app[keys.SCHEDULER].planned()
    assert wakes == {r.id: r.work.due_at for r in await service.app[keys.TIMEKEEPER].due.pending()}


async def test_a_failed_listing_leaves_the_reminders_as_they_were(service, zoom, settings):
    zoom.meetings[THERAPIST_A_HOST] = [{"id": 85746065432, "type": 2, "start_time": iso(2), "duration": 50}]
    await service.app[MEETING_SYNC].sync_all()
    zoom.failures = [500] * 3

    async def no_wait(_: float) -> None:
        return None

    api = ZoomApi(service.app[keys.SETTINGS].zoom, retries=2, sleep=no_wait)
    await MeetingSync(service.app[keys.SETTINGS], api, service.app[keys.TIMEKEEPER]).sync_all()
    assert await planned(service) == [("85746065432", iso(2))]


async def post(client, body: dict):
    raw = json.dumps(body).encode()
    response = await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))
    assert response.status == 200, await response.text()
    return await response.json()


def plan_event(name: str, obj: dict) -> dict:
    return {"event": name, "event_ts": int(NOW.timestamp() * 1000), "payload": {"account_id": ACCOUNT_ID, "object": obj}}


async def test_plan_webhooks_move_reminders_at_once_and_stay_out_of_sessions(service, zoom):
    created = {"id": 85746065432, "uuid": "pl4n==", "host_id": THERAPIST_A_HOST, "topic": "x", "type": 2, "start_time": iso(1), "duration": 50}
    assert await post(service, plan_event("meeting.created", created)) == {"status": "planned"}
    assert await planned(service) == [("85746065432", iso(1))]

    # Zoom sends only the changed fields: the service reads the whole plan from the API, off the webhook's path.
    zoom.details["85746065432"] = {**created, "start_time": iso(1.5)}
    await post(service, plan_event("meeting.updated", {"id": 85746065432, "start_time": iso(1.5)}))
    await service.app[MEETING_SYNC].drain()
    assert await planned(service) == [("85746065432", iso(1.5))]

    await post(service, plan_event("meeting.deleted", {"id": 85746065432, "uuid": "pl4n==", "host_id": THERAPIST_A_HOST, "type": 2}))
    assert await planned(service) == []
    assert await service.app[keys.STORE].sessions("t1") == []


async def test_deleting_one_occurrence_cancels_only_its_reminder(service, zoom):
    await post(service, plan_event("meeting.created", {**recurring(777, 3, 20), "topic": "x"}))
    assert await planned(service) == [("777", iso(3)), ("777", iso(20))]
    deleted = {"id": 777, "uuid": "u777==", "type": 8, "occurrences": [{"occurrence_id": "0", "start_time": iso(3)}]}
    await post(service, plan_event("meeting.deleted", deleted))
    assert await planned(service) == [("777", iso(20))]


async def test_another_hosts_meeting_gets_no_reminder(service):
    created = {"id": 5, "uuid": "o==", "host_id": "someone-else", "type": 2, "start_time": iso(1), "duration": 30}
    await post(service, plan_event("meeting.created", created))
    assert await planned(service) == []


async def test_a_plan_webhook_without_a_meeting_id_is_a_400(service):
    raw = json.dumps(plan_event("meeting.updated", {"start_time": iso(1)})).encode()
    response = await service.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))
    assert response.status == 400 and "meeting id" in (await response.json())["reason"]
