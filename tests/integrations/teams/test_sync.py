"""Teams meetings against `create_app`: the real msal and Graph client on loopback, reminders and subscriptions on a controlled clock."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from bot.config.settings_file import parse_settings
from bot.core.appointments import appointment_id_for
from bot.core.join_urls import join_url_key
from bot.core.timefmt import from_iso, to_iso
from bot.web import keys
from bot.web.app import create_app
from integrations.teams import keys as teams_keys
from tests.conftest import TOKEN_A, settings_dict
from tests.fakes.clock import ManualClock
from tests.fakes.fixtures import PUBLIC_URL, T1_ENTRA
from tests.fakes.graph_calendar import MAX_LIFETIME

WEEKLY = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_V2Vla2x5%40thread.v2/0?context=%7b%22Tid%22%3a%22t%22%7d"
ONCE = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_T25jZQ%40thread.v2/0?context=%7b%22Tid%22%3a%22t%22%7d"
LATER = "https://teams.microsoft.com/meet/2634567890123?p=AbCdEf"


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("teams-key") / "key.pem")  # made by the first test, reloaded by the others


@pytest.fixture
def clock(graph_meetings) -> ManualClock:
    # Starts at the real time: the app's real scheduler must not find the planned reminders already due.
    clock = ManualClock(datetime.now(timezone.utc).replace(second=0, microsecond=0))
    graph_meetings.clock = clock
    return clock


@pytest.fixture
async def service(aiohttp_client, storage_url, graph_meetings, clock, key_file):
    raw = settings_dict(
        storage_url,
        server={"public_url": PUBLIC_URL},
        teams={**graph_meetings.settings(), "generated_key_file": key_file},
        reminders={"sync_interval_minutes": 0, "horizon_hours": 72},
        clients=[{"code": "C-9", "therapist": "t1", "teams_join_urls": [WEEKLY.replace("%3a", "%3A")]}],
    )
    raw["therapists"][0]["teams_user_id"] = T1_ENTRA
    return await aiohttp_client(create_app(parse_settings(raw, {}), clock))


def at(clock: ManualClock, hours: float) -> str:
    return (clock.now + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.0000000")


def meeting(clock: ManualClock, n: str, url: str, hours: float, minutes: int = 50, **extra) -> dict:
    start = clock.now + timedelta(hours=hours)
    return {
        "id": f"AAMk-{n}", "type": "singleInstance", "isCancelled": False, "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness", "onlineMeeting": {"joinUrl": url},
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
        **extra,
    }


def occurrence(clock: ManualClock, n: str, hours: float) -> dict:
    return meeting(clock, n, WEEKLY, hours, type="occurrence", seriesMasterId="AAMk-series")


def calendar(clock: ManualClock) -> list[dict]:
    return [
        meeting(clock, "once", ONCE, 2),
        occurrence(clock, "w1", 3),  # a recurring meeting comes expanded, every occurrence with the series' join URL
        occurrence(clock, "w2", 27),
        meeting(clock, "later", LATER, 60, minutes=30),
        meeting(clock, "phone", "", 5, isOnlineMeeting=False, onlineMeeting=None),
        meeting(clock, "skype", ONCE, 6, onlineMeetingProvider="skypeForBusiness"),
        meeting(clock, "off", ONCE, 7, isCancelled=True),
        meeting(clock, "past", ONCE, -3),
    ]


async def planned(client) -> list[tuple[str, str, str]]:
    rows = await client.app[keys.TIMEKEEPER].due.pending(kind="checklist_reminder")
    return sorted((r.work.data["platform"], r.work.data["meeting_id"], r.work.data["start"]) for r in rows)


def iso(clock: ManualClock, hours: float) -> str:
    return to_iso(clock.now + timedelta(hours=hours)) or ""


async def test_reminders_are_planned_for_each_teams_occurrence_as_for_zoom(service, graph_meetings, clock):
    graph_meetings.events[T1_ENTRA] = calendar(clock)
    await service.app[teams_keys.MEETING_SYNC].sync_all()
    weekly, once, later = join_url_key(WEEKLY), join_url_key(ONCE), join_url_key(LATER)
    assert await planned(service) == sorted([
        ("teams", once, iso(clock, 2)), ("teams", weekly, iso(clock, 3)), ("teams", weekly, iso(clock, 27)), ("teams", later, iso(clock, 60)),
    ])
    calls = graph_meetings.bodies("calendar")
    assert len(calls) == 4 and calls[0]["startDateTime"] == to_iso(clock.now) and calls[0]["endDateTime"] == iso(clock, 72)
    assert graph_meetings.received[2].headers["Prefer"] == 'outlook.timezone="UTC"'
    rows = await service.app[keys.TIMEKEEPER].due.pending(kind="checklist_reminder")
    first = next(r for r in rows if r.work.data["meeting_id"] == weekly and r.work.data["start"] == iso(clock, 3))
    assert first.work.due_at == clock.now + timedelta(hours=3, minutes=-10) and first.work.data["minutes"] == 50
    assert first.work.key == f"checklist_reminder:teams:{weekly}:{(clock.now + timedelta(hours=3)).strftime('%Y%m%dT%H%M%S')}"
    answer = await service.get("/api/appointments", headers={"Authorization": f"Bearer {TOKEN_A}"})
    listed = {a["appointment_id"]: a for a in await answer.json()}
    assert listed[appointment_id_for(first.work.key)]["client_code"] == "C-9"  # the profile names the meeting by its join URL
    assert listed[appointment_id_for(first.work.key)]["platform"] == "teams"
    points = [item["id"] for item in listed[appointment_id_for(first.work.key)]["checklist"]["items"]]
    assert "companion_told_teams" in points and "companion_told_zoom" not in points  # the client is told the bot is visible


async def test_a_moved_meeting_moves_its_reminder_and_a_cancelled_one_cancels_it(service, graph_meetings, clock):
    graph_meetings.events[T1_ENTRA] = calendar(clock)
    await service.app[teams_keys.MEETING_SYNC].sync_all()
    moved = [meeting(clock, "once", ONCE, 4), occurrence(clock, "w1", 3), meeting(clock, "later", LATER, 60, minutes=30)]
    graph_meetings.events[T1_ENTRA] = moved  # `once` moved; the weekly meeting's second occurrence cancelled
    await service.app[teams_keys.MEETING_SYNC].sync_all()
    weekly, once, later = join_url_key(WEEKLY), join_url_key(ONCE), join_url_key(LATER)
    assert await planned(service) == sorted([("teams", once, iso(clock, 4)), ("teams", weekly, iso(clock, 3)), ("teams", later, iso(clock, 60))])
    graph_meetings.events[T1_ENTRA] = moved[:2]  # `later` cancelled altogether: its subscription goes too
    await service.app[teams_keys.MEETING_SYNC].sync_all()
    assert [m for _, m, _ in await planned(service)].count(later) == 0
    assert [r.body for r in graph_meetings.received if r.route == "unsubscribe"] == [None]
    assert {s.meeting_id for s in await active(service)} == {weekly, once}


async def test_a_failed_listing_leaves_reminders_and_subscriptions_as_they_were(service, graph_meetings, clock):
    graph_meetings.events[T1_ENTRA] = calendar(clock)
    await service.app[teams_keys.MEETING_SYNC].sync_all()
    before = await planned(service)
    graph_meetings.down("calendar", status=404)
    await service.app[teams_keys.MEETING_SYNC].sync_all()
    assert await planned(service) == before and len(await active(service)) == 3


async def active(service):
    return await service.app[teams_keys.SUBSCRIPTIONS].of_therapist("teams", "t1")


async def test_one_subscription_per_meeting_with_graphs_fields_and_a_random_client_state(service, graph_meetings, clock):
    graph_meetings.events[T1_ENTRA] = calendar(clock)
    graph_meetings.fail("subscribe", status=429, retry_after="0")  # throttled once: tried again at once
    await service.app[teams_keys.MEETING_SYNC].sync_all()
    await service.app[teams_keys.MEETING_SYNC].sync_all()  # already watched: nothing new
    made = graph_meetings.bodies("subscribe")
    assert len(made) == 3 and graph_meetings.hits["subscribe"] == 4
    key = service.app[teams_keys.SERVICE_KEY]
    weekly = next(b for b in made if quote(WEEKLY, safe="") in b["resource"])
    assert weekly["resource"] == f"communications/onlineMeetings(joinWebUrl='{quote(WEEKLY, safe='')}')/meetingCallEvents"
    assert {k: weekly[k] for k in ("changeType", "notificationUrl", "lifecycleNotificationUrl", "includeResourceData")} == {
        "changeType": "updated", "notificationUrl": f"{PUBLIC_URL}/webhooks/teams",
        "lifecycleNotificationUrl": f"{PUBLIC_URL}/webhooks/teams/lifecycle", "includeResourceData": True,
    }
    assert (weekly["encryptionCertificate"], weekly["encryptionCertificateId"]) == (key.encryption_certificate, key.certificate_id)
    assert clock.now + timedelta(days=2) < from_iso(weekly["expirationDateTime"]) <= clock.now + MAX_LIFETIME
    states = [b["clientState"] for b in made]
    assert len(set(states)) == 3 and all(len(s) >= 40 for s in states)
    stored = {s.subscription_id: s for s in await active(service)}
    assert {s.therapist_id for s in stored.values()} == {"t1"} and set(stored) == set(graph_meetings.subscriptions)
    store = service.app[teams_keys.SUBSCRIPTIONS]  # each kept with (a digest of) its own clientState only
    for made_id, body in graph_meetings.subscriptions.items():
        assert await store.matching("teams", made_id, body["clientState"]) == stored[made_id]
        assert [await store.matching("teams", made_id, other) for other in set(states) - {body["clientState"]}] == [None, None]
    assert {s.join_url for s in stored.values()} == {WEEKLY, ONCE, LATER}  # kept for the calling bot; never logged


async def test_subscriptions_are_renewed_before_they_expire_on_the_services_clock(service, graph_meetings, clock):
    graph_meetings.events[T1_ENTRA] = [meeting(clock, "later", LATER, 60)]
    await service.app[teams_keys.MEETING_SYNC].sync_all()
    manager = service.app[teams_keys.LIFECYCLE]
    (sub,) = await active(service)
    clock.advance(44 * 3600)  # more than a day left: not yet
    await manager.maintain()
    assert graph_meetings.bodies("renew") == []
    clock.advance(3 * 3600)  # less than a day left: renewed for as long again
    graph_meetings.fail("renew", status=503, retry_after="0")  # once: the client tries again
    await manager.maintain()
    assert graph_meetings.bodies("renew") == [{"expirationDateTime": to_iso(clock.now + MAX_LIFETIME - timedelta(hours=2))}]
    (renewed,) = await active(service)
    assert renewed.subscription_id == sub.subscription_id and renewed.expires_at == clock.now + MAX_LIFETIME - timedelta(hours=2)
    clock.advance(14 * 3600)  # the meeting (60 h after the start, 50 min long) is over; 3 h after its end it is long over
    await manager.maintain()
    assert len(await active(service)) == 1
    clock.advance(4 * 3600)
    await manager.maintain()
    assert await active(service) == [] and graph_meetings.subscriptions == {}


async def test_reauthorization_and_removal_as_the_lifecycle_webhook_asks(service, graph_meetings, clock):
    graph_meetings.events[T1_ENTRA] = [meeting(clock, "once", ONCE, 2)]
    await service.app[teams_keys.MEETING_SYNC].sync_all()
    manager, store = service.app[teams_keys.LIFECYCLE], service.app[teams_keys.SUBSCRIPTIONS]
    (sub,) = await active(service)
    assert await manager.reauthorize(sub) is True
    assert [r.path for r in graph_meetings.received if r.route == "reauthorize"] == [f"/beta/subscriptions/{sub.subscription_id}/reauthorize"]

    new_id = await manager.resubscribe(sub)  # subscriptionRemoved
    assert new_id and new_id != sub.subscription_id
    (replacement,) = await active(service)
    assert (replacement.subscription_id, replacement.meeting_id, replacement.resource) == (new_id, sub.meeting_id, sub.resource)
    assert (replacement.join_url, replacement.meeting_ends_at) == (sub.join_url, sub.meeting_ends_at)
    old_state = graph_meetings.bodies("subscribe")[0]["clientState"]
    assert graph_meetings.subscriptions[new_id]["clientState"] != old_state and await store.matching("teams", new_id, old_state) is None
    assert await store.get("teams", sub.subscription_id) is None  # the old one is forgotten
    assert await manager.reauthorize(sub) is False and await manager.resubscribe(dataclasses.replace(sub, subscription_id="unknown")) is None

    graph_meetings.subscriptions.clear()  # Graph forgot it: re-authorizing makes a new one
    assert await manager.reauthorize(replacement) is True
    (third,) = await active(service)
    assert third.subscription_id not in (sub.subscription_id, new_id)
