"""Stream tickets: a therapist's, good once and for 60 s, on any instance; the token never travels in the URL."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.core.timefmt import from_iso
from bot.storage import schema
from bot.web import keys
from bot.web.app import create_app
from tests.bot.web.pages.conftest import csrf_of, set_passwords, sign_in
from tests.bot.web.test_stream import STREAM, bearer, next_event, ticket
from tests.conftest import TOKEN_A, TOKEN_B
from tests.fakes.fixtures import raise_notice

TICKETS = "/api/stream-tickets"


async def test_a_ticket_is_issued_for_a_bearer_token_only_and_says_when_it_expires(aiohttp_client, settings, clock):
    client = await aiohttp_client(create_app(settings, clock))
    assert (await client.post(TICKETS)).status == 401
    assert (await client.post(TICKETS, headers=bearer("not-a-token"))).status == 401
    answer = await client.post(TICKETS, headers=bearer(TOKEN_A))
    assert answer.status == 201 and answer.headers["Cache-Control"] == "no-store"
    body = await answer.json()
    assert set(body) == {"ticket", "expires_at"} and len(body["ticket"]) >= 40
    assert from_iso(body["expires_at"]) == clock() + timedelta(seconds=60)


async def test_a_ticket_opens_the_stream_once(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    good = await ticket(client)
    first = await client.get(STREAM, params={"ticket": good})
    assert first.status == 200
    first.close()
    again = await client.get(STREAM, params={"ticket": good})
    assert again.status == 401 and "unknown, used or expired" in (await again.json())["reason"]


async def test_a_ticket_is_good_for_sixty_seconds(aiohttp_client, settings, clock):
    client = await aiohttp_client(create_app(settings, clock))
    in_time, too_late = await ticket(client), await ticket(client)
    clock.advance(59)
    response = await client.get(STREAM, params={"ticket": in_time})
    assert response.status == 200
    response.close()
    clock.advance(1)
    assert (await client.get(STREAM, params={"ticket": too_late})).status == 401


async def test_another_therapists_ticket_never_opens_your_stream(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    theirs = await client.get(STREAM, params={"ticket": await ticket(client, TOKEN_B)}, headers=bearer(TOKEN_A))
    assert theirs.status == 200
    await raise_notice(client.app, "t1", "s-a", "recording_started", 1, "Someone started recording the meeting.")
    b1 = await raise_notice(client.app, "t2", "s-b", "third_party_joined", 1, "Another person joined the meeting.")
    seen = await next_event(theirs)  # the ticket decides whose stream it is, whatever else the request carries
    assert (seen["id"], seen["data"]["session_id"]) == (str(b1), "s-b")
    theirs.close()


async def test_the_signed_in_page_gets_a_ticket_with_its_csrf_token(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    await set_passwords(client.app)
    assert (await sign_in(client)).status == 303
    csrf = csrf_of(await (await client.get("/")).text())
    assert (await client.post(TICKETS)).status == 403  # the cookie alone is not enough for a change
    answer = await client.post(TICKETS, headers={"X-CSRF-Token": csrf})
    assert answer.status == 201
    stream = await client.get(STREAM, params={"ticket": (await answer.json())["ticket"]})
    assert stream.status == 200
    stream.close()


async def test_a_ticket_from_one_instance_opens_the_stream_on_another_once(aiohttp_client, make_settings, storage_url):
    settings = make_settings(storage_url)
    one, other = await aiohttp_client(create_app(settings)), await aiohttp_client(create_app(settings))
    good = await ticket(one)
    async with one.app[keys.STORE].engine.connect() as conn:
        kept = (await conn.execute(select(schema.stream_tickets))).all()
    assert [row.therapist_id for row in kept] == ["t1"] and good not in repr(kept)  # a digest, never the ticket
    now = one.app[keys.CLOCK]()
    redeemed = await asyncio.gather(*(app[keys.STREAM_TICKETS].redeem(good, now) for app in (one.app, other.app, other.app)))
    assert sorted(redeemed, key=str) == [None, None, "t1"]
    fresh = await ticket(one)
    response = await other.get(STREAM, params={"ticket": fresh})
    assert response.status == 200
    response.close()
