"""Fixtures of the outbox tests: a whole meeting held through the webhook, so that notices have a real session."""
from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

import pytest

from bot.storage.store import SessionRow
from bot.web import keys
from tests.conftest import signed_headers


@pytest.fixture
def hold_meeting(meeting_deliveries: list[dict[str, Any]]) -> Callable[[Any], Awaitable[SessionRow]]:
    """Return a function that posts the whole meeting to a test client's webhook, lets it be judged, and returns its session."""

    async def hold(client: Any) -> SessionRow:
        for body in meeting_deliveries:
            raw = json.dumps(body).encode()
            assert (await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))).status == 200
        await client.app[keys.EVALUATION].drain()
        (session,) = await client.app[keys.STORE].sessions("t1")
        return session

    return hold
