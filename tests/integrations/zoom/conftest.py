"""Zoom adapter fixtures: the fake Zoom API served on loopback."""
from __future__ import annotations

import pytest

from tests.fakes.fixtures import fake_zoom  # noqa: F401  (the chat fake, for the chat channel's tests)
from tests.fakes.zoom_api import FakeZoom


@pytest.fixture
async def zoom(aiohttp_server) -> FakeZoom:
    """Serve a fresh fake Zoom API; `zoom.base` is its address."""
    fake = FakeZoom()
    server = await aiohttp_server(fake.app(), host="127.0.0.1")
    fake.base = str(server.make_url("")).rstrip("/")
    return fake
