"""A notice raised here goes to the workers in memory as well as in its rows; rows from elsewhere are found by polling."""
from __future__ import annotations

import asyncio
from typing import Callable

from bot.delivery import workers
from bot.storage.store import Store, create_engine
from bot.web import keys
from bot.web.app import create_app
from tests.conftest import storage_keys
from tests.fakes.fixtures import PUBLIC_URL, T1_JID, T2_JID, delivery_rows, raise_notice

NEVER = 3600.0  # a poll interval no test waits out: only a hand-off (or a wake) sends


async def until(done: Callable[[], bool], rounds: int = 1000) -> None:
    """Let the service run, without waking its workers, until `done()` (bounded)."""
    for _ in range(rounds):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("nothing was sent")


def texts(fake_zoom) -> list[tuple[str, str]]:
    """Return each Zoom message as (recipient, first line)."""
    return [(b["to_jid"], b["content"]["body"][0]["text"].split("\n")[0]) for b in fake_zoom.bodies("message")]


async def test_a_raised_notice_is_sent_at_once_not_at_the_next_poll(monkeypatch, aiohttp_client, alert_settings, fake_zoom):
    monkeypatch.setattr(workers, "POLL_SECONDS", NEVER)
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["zoom_chat"])))
    await client.app[keys.DELIVERIES].drain()  # every worker has looked once and now waits for the (long) poll
    await raise_notice(client.app, "t1", "s-one", "recording_started", message="Someone started recording the meeting.")
    await until(lambda: bool(fake_zoom.bodies("message")))
    assert texts(fake_zoom) == [(T1_JID, "Someone started recording the meeting.")]


async def test_a_notice_written_by_another_process_is_found_by_polling(monkeypatch, aiohttp_client, alert_settings, fake_zoom):
    monkeypatch.setattr(workers, "POLL_SECONDS", 0.05)
    settings = alert_settings(t1_channels=["zoom_chat"])
    client = await aiohttp_client(create_app(settings))
    await client.app[keys.DELIVERIES].drain()
    other = Store(create_engine(settings.storage.url), storage_keys(), settings.channels_for)  # rows only: no board, no hand-off
    now = client.app[keys.CLOCK]()
    await other.raise_notice("t1", "s-elsewhere", "third_party_joined", "s-elsewhere:1", now, "Another person joined.", now)
    await other.close()
    await other.engine.dispose()
    await until(lambda: bool(fake_zoom.bodies("message")))
    await client.app[keys.DELIVERIES].drain()
    assert texts(fake_zoom) == [(T1_JID, "Another person joined.")]
    assert [(r.channel, r.state) for r in await delivery_rows(client.app)] == [("zoom_chat", "sent")]


async def test_a_notice_stored_just_before_a_crash_is_sent_once_after_the_restart(monkeypatch, aiohttp_client, alert_settings, clock, fake_zoom):
    monkeypatch.setattr(workers, "POLL_SECONDS", NEVER)
    settings = alert_settings(t1_channels=["zoom_chat"])
    first = await aiohttp_client(create_app(settings, clock))
    await first.app[keys.DELIVERIES].drain()
    now = clock()
    # Committed, and the process gone before anything was handed over or sent: the row is all there is.
    await first.app[keys.STORE].raise_notice("t1", "s-one", "third_party_joined", "s-one:1", now, "Another person joined.", now)
    await first.close()
    assert fake_zoom.bodies("message") == []

    second = await aiohttp_client(create_app(settings, clock))
    await until(lambda: bool(fake_zoom.bodies("message")))  # its first look at start, with no poll due for an hour
    await second.app[keys.DELIVERIES].drain()
    await second.app[keys.DELIVERIES].drain()
    assert texts(fake_zoom) == [(T1_JID, "Another person joined.")]
    (row,) = await delivery_rows(second.app)
    assert (row.state, row.attempts) == ("sent", 1)


async def test_each_session_and_each_therapist_keep_their_order_while_sends_overlap(aiohttp_client, alert_settings, clock, fake_zoom):
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["zoom_chat"]), clock))
    fake_zoom.down("message", delay=0.02)  # slow answers: the next sends start while these are still out
    raised: list[tuple[str, str | None, int]] = []
    for n in range(36):
        therapist, session = ("t1", "t2")[n % 2], (f"s-{n % 3}", f"s-{n % 3}", None)[n % 3]
        raised.append((therapist, session, n))
    await asyncio.gather(*(
        raise_notice(client.app, therapist, session and f"{therapist}-{session}", "third_party_joined", n, f"Joined ({n}).")
        for therapist, session, n in raised
    ))
    await client.app[keys.DELIVERIES].drain()
    sent = texts(fake_zoom)
    assert sorted(sent) == sorted(({"t1": T1_JID, "t2": T2_JID}[t], f"Joined ({n}).") for t, _, n in raised)
    ids = {row.notice_id: row for row in await delivery_rows(client.app)}
    assert {row.state for row in ids.values()} == {"sent"}
    for therapist in ("t1", "t2"):
        for session in ("s-0", "s-1", "s-2", None):
            # The order raised is the order of the notices' ids; each key's messages arrive in it.
            expected = [f"Joined ({n})." for t, s, n in raised if t == therapist and s == session]
            jid = {"t1": T1_JID, "t2": T2_JID}[therapist]
            assert [text for to, text in sent if to == jid and text in expected] == expected, (therapist, session)


async def test_two_instances_raising_and_sending_at_once_never_send_a_notice_twice(aiohttp_client, alert_settings, storage_url, clock, fake_zoom):
    settings = alert_settings(storage_url, t1_channels=["zoom_chat"])
    one = await aiohttp_client(create_app(settings, clock))
    two = await aiohttp_client(create_app(settings, clock))
    fake_zoom.down("message", delay=0.01)  # slow answers widen the race between the two
    now = clock()

    async def raise_on(app, n: int) -> None:
        await app[keys.BOARD].raise_notice("t1", f"s-{n % 5}", "third_party_joined", f"s-{n % 5}:{n}", now, f"Joined ({n}).", now)

    for r in range(3):  # each instance raises every notice: the one that stores it hands it to its own workers
        await asyncio.gather(*(raise_on(app, 100 * r + n) for n in range(20) for app in (one.app, two.app)))
    await asyncio.gather(one.app[keys.DELIVERIES].drain(), two.app[keys.DELIVERIES].drain())
    await asyncio.gather(one.app[keys.DELIVERIES].drain(), two.app[keys.DELIVERIES].drain())
    assert sorted(text for _, text in texts(fake_zoom)) == sorted(f"Joined ({100 * r + n})." for r in range(3) for n in range(20))


async def test_a_client_known_by_email_only_is_named_by_code(aiohttp_client, alert_settings, fake_zoom, hold_meeting):
    profile = {"code": "C-40", "therapist": "t1", "emails": ["sam.client@example.net"]}  # no meeting id: judged to be found
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["zoom_chat"], clients=[profile])))
    session = await hold_meeting(client)
    await raise_notice(client.app, "t1", session.id, "recording_started", 9, "Recording started again.")
    await client.app[keys.DELIVERIES].drain()
    (ours,) = [b for b in fake_zoom.bodies("message") if b["content"]["body"][0]["text"].startswith("Recording started again.")]
    assert ours["content"]["head"]["text"] == "Recording started · C-40"
    assert ours["content"]["body"][0]["text"] == f"Recording started again.\n{PUBLIC_URL}/sessions/{session.id}"
    assert {b["content"]["head"]["text"].split(" · ")[-1] for b in fake_zoom.bodies("message")} == {"C-40"}  # every notice of it
