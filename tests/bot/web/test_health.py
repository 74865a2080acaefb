"""Liveness and readiness: /healthz answers while the process does; /readyz says 503, with reasons, when work would not get done."""
from __future__ import annotations

import asyncio
import uuid
from typing import Iterator

import psycopg2
import pytest

from bot.web import keys
from bot.web.app import create_app
from tests.conftest import PG_ADMIN_DSN
from tests.fakes.fixtures import raise_notice, settle


async def test_a_service_that_can_work_is_live_and_ready(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    assert await (await client.get("/healthz")).json() == {"status": "ok"}
    answer = await client.get("/readyz")
    assert answer.status == 200 and await answer.json() == {"status": "ready", "leader": True, "streams_owned": 0}  # the one instance on SQLite


async def test_readyz_is_503_when_the_scheduler_is_not_running(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    await client.app[keys.SCHEDULER].shutdown()
    answer = await client.get("/readyz")
    assert answer.status == 503
    assert await answer.json() == {"status": "not_ready", "reasons": ["the scheduler is not running: reminders and timers would not fire"], "leader": True, "streams_owned": 0}
    assert (await client.get("/healthz")).status == 200


async def test_readyz_is_503_while_a_delivery_waits_longer_than_the_threshold_and_ready_once_it_is_sent(aiohttp_client, alert_settings, clock, fake_zoom):
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["dashboard", "zoom_chat"]), clock))
    fake_zoom.down("message", status=503)  # Zoom's chat is away: the message waits for its retries
    await raise_notice(client.app, "t1", "s-one", "third_party_joined")
    await client.app[keys.DELIVERIES].drain()
    clock.advance(300)  # the threshold ([server] ready_max_pending_delivery_seconds), not over it
    assert (await client.get("/readyz")).status == 200
    clock.advance(1)
    answer = await client.get("/readyz")
    assert answer.status == 503
    assert (await answer.json())["reasons"] == [
        "a delivery has waited 301 s to be sent, more than 300 s ([server] ready_max_pending_delivery_seconds)"
    ]
    fake_zoom.up("message")
    await settle(client.app, clock, lambda: bool(fake_zoom.bodies("message")))
    assert (await client.get("/readyz")).status == 200  # the dashboard's copy waits for the therapist's page: not counted


def admin(*statements: str) -> None:
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    conn.close()


@pytest.fixture
def throwaway_database(postgres_database: str) -> Iterator[str]:
    """A PostgreSQL database of this test's own, to stop and start again (postgres_database: skipped without a server)."""
    name = f"companion_ready_{uuid.uuid4().hex[:10]}"
    admin(f'CREATE DATABASE "{name}"')
    yield name
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_readyz_is_503_while_the_database_refuses_connections_and_ready_again_once_it_is_back(throwaway_database, aiohttp_client, make_settings):
    name = throwaway_database
    client = await aiohttp_client(create_app(make_settings(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")))
    assert (await client.get("/readyz")).status == 200
    # The database stops taking connections, and those the service holds are cut, as when it goes down.
    admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false', f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    answer = await client.get("/readyz")
    # Its cluster link was cut too: it stands by once its link's check (every failover_seconds / 5, 2 s here) finds it
    # cut, which a busy machine may not have run by the first answer; and says only what is wrong (a follower's
    # scheduler is paused by design).
    for _ in range(5):
        assert answer.status == 503
        shown = await answer.json()
        if not shown["leader"]:
            break
        answer = await client.get("/readyz")  # each waits the 2 s the database has to answer
    assert shown == {"status": "not_ready", "reasons": ["the database did not answer within 2 s"], "leader": False, "streams_owned": 0}
    assert (await client.get("/healthz")).status == 200  # alive: a restart would not bring the database back
    admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    answer = await client.get("/readyz")
    assert answer.status == 200 and (await answer.json())["status"] == "ready"
    for _ in range(100):  # linked again within [cluster] failover_seconds / 5, it takes the lead back: no other instance holds it
        if (await (await client.get("/readyz")).json())["leader"]:
            break
        await asyncio.sleep(0.1)
    assert (await (await client.get("/readyz")).json())["leader"] is True
