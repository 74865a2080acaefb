"""Fixtures for the outbound channels: fake Zoom and Graph on loopback, settings pointing at them, helpers."""
from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.config.settings_file import parse_settings
from bot.core.settings import Settings
from bot.storage import schema
from bot.web import keys
from tests.conftest import THERAPIST_A_HOST, settings_dict

from .clock import ManualClock
from .graph import FakeGraph
from .tls import loopback_certificate, trusting
from .zoom_chat import FakeZoomChat

PUBLIC_URL = "https://companion.test"
T1_JID, T2_JID = "ruth.t1@xmpp.zoom.us", "bea.t2@xmpp.zoom.us"
T1_ENTRA = "3f1c2d9e-0000-4a6b-9c1d-7e2f5a6b8c01"
ALL_CHANNELS = ["dashboard", "zoom_chat", "teams_activity"]


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[ssl.SSLContext]:
    """Serve HTTPS with a fresh loopback certificate that requests (hence msal) and aiohttp (the token checks) trust."""
    context, cafile = loopback_certificate(tmp_path)
    with trusting(cafile):
        yield context


@pytest.fixture
async def fake_zoom() -> AsyncIterator[FakeZoomChat]:
    fake = FakeZoomChat(jids={THERAPIST_A_HOST: T1_JID})
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_graph(tls: ssl.SSLContext) -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    await fake.start_both(tls)
    yield fake
    await fake.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def alert_settings(sqlite_url: str, fake_zoom: FakeZoomChat, fake_graph: FakeGraph) -> Callable[..., Settings]:
    """Return settings where t1 has every channel (JID looked up) and t2 has Zoom chat (JID configured)."""

    def make(storage_url: str | None = None, t1_channels: list[str] = ALL_CHANNELS, **extra: Any) -> Settings:
        raw = settings_dict(
            storage_url or sqlite_url,
            server={"public_url": PUBLIC_URL},
            zoom=fake_zoom.settings(),
            teams=fake_graph.settings(),
            reminders={"sync_interval_minutes": 0},  # no meeting sync against these fakes
            **extra,
        )
        t1, t2 = raw["therapists"]
        t1.update(channels=t1_channels, teams_user_id=T1_ENTRA)
        t2.update(channels=["dashboard", "zoom_chat"], zoom_jid=T2_JID)
        return parse_settings(raw, {})

    return make


async def raise_notice(app: web.Application, therapist: str, session: str | None, kind: str, n: int = 0, message: str = "The client's video has been off for 1 min.") -> int:
    """Raise a notice as the core would; return its id."""
    now = app[keys.CLOCK]()
    row = await app[keys.BOARD].raise_notice(therapist, session, kind, f"{session}:{kind}:{n}", now, message, now)
    assert row is not None
    return row.id


async def settle(app: web.Application, clock: ManualClock, done: Callable[[], bool], step: float = 10, rounds: int = 200) -> None:
    """Let deliveries run, moving the clock on in steps, until `done()`."""
    for _ in range(rounds):
        await app[keys.DELIVERIES].drain()
        if done():
            return
        clock.advance(step)
        app[keys.DELIVERIES].wake()
    raise AssertionError("deliveries did not settle")


async def delivery_rows(app: web.Application) -> list[Any]:
    """Return every delivery row, in id order."""
    async with app[keys.STORE].engine.connect() as conn:
        return list((await conn.execute(select(schema.deliveries).order_by(schema.deliveries.c.id))).all())
