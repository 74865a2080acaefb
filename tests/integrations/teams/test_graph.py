"""The Graph client with the real msal against fake Entra and Graph on loopback: paging, retries, errors without bodies."""
from __future__ import annotations

import logging

import aiohttp
import pytest

from bot.core.settings import TeamsSettings
from integrations.teams.client import GraphToken, TimeoutSession
from integrations.teams.graph import GraphClient, GraphError
from tests.fakes.fixtures import T1_ENTRA

WINDOW = {"startDateTime": "2025-03-04T15:00:00Z", "endDateTime": "2025-03-05T15:00:00Z"}
PATH = f"/v1.0/users/{T1_ENTRA}/calendarView"


def event(n: int) -> dict:
    return {"id": f"e{n}", "start": {"dateTime": f"2025-03-04T{16 + n}:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": f"2025-03-04T{16 + n}:50:00.0000000", "timeZone": "UTC"}}


class Waits(list):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


async def calls(fake, work, settings: TeamsSettings | None = None, **options):
    waits = Waits()
    async with aiohttp.ClientSession() as http:
        with TimeoutSession() as auth_http:
            settings = settings or TeamsSettings(**fake.settings())
            client = GraphClient(settings, http, GraphToken(settings, auth_http), sleep=waits, jitter=lambda: 0.5, **options)
            return await work(client), waits


async def listing(client: GraphClient) -> list[str]:
    return [e["id"] async for e in client.pages("calendarView", PATH, WINDOW)]


async def test_pages_are_followed_with_one_msal_app_and_one_token(graph_meetings):
    graph_meetings.events[T1_ENTRA] = [event(n) for n in range(5)]
    found, waits = await calls(graph_meetings, listing)
    assert found == ["e0", "e1", "e2", "e3", "e4"] and waits == []
    assert [r.route for r in graph_meetings.received] == ["discovery", "token", "calendar", "calendar", "calendar"]
    assert graph_meetings.bodies("calendar")[2]["$skiptoken"] == "4"
    assert all(r.headers["Authorization"] == f"Bearer {graph_meetings.tokens[0]}" for r in graph_meetings.received[2:])


async def test_429_waits_as_long_as_retry_after_says_then_a_503_backs_off(graph_meetings):
    graph_meetings.events[T1_ENTRA] = [event(1)]
    graph_meetings.fail("calendar", status=429, retry_after="7")
    graph_meetings.fail("calendar", status=503)
    found, waits = await calls(graph_meetings, listing)
    assert found == ["e1"]
    assert waits == pytest.approx([7 * 1.05, 2.0 * 1.05])  # Retry-After plus jitter, never less; then the second back-off step
    assert graph_meetings.hits["calendar"] == 3


async def test_retries_are_bounded_and_the_error_keeps_status_and_graph_code_but_no_body(graph_meetings, caplog):
    graph_meetings.down("calendar", status=503, retry_after="120")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GraphError) as failed:
        await calls(graph_meetings, listing, attempts=3, max_wait_seconds=30)
    assert (failed.value.status, failed.value.code, failed.value.retryable) == (503, "fault", True)
    assert graph_meetings.hits["calendar"] == 3
    assert "personal data" not in caplog.text


async def test_a_refusal_is_not_retried_and_names_graphs_code(graph_meetings, caplog):
    async def renew(client: GraphClient):
        return await client.patch("renew subscription", "/beta/subscriptions/nope", {"expirationDateTime": "2025-03-05T00:00:00Z"})

    with pytest.raises(GraphError) as refused:
        await calls(graph_meetings, renew)
    assert (refused.value.status, refused.value.code, refused.value.retryable) == (404, "ResourceNotFound", False)
    assert str(refused.value) == "Graph renew subscription failed: HTTP 404 ResourceNotFound"
    assert graph_meetings.hits["renew"] == 1 and "personal data" not in caplog.text


async def test_a_next_link_off_graph_is_not_followed_with_the_token(graph_meetings):
    graph_meetings.events[T1_ENTRA] = [event(n) for n in range(3)]
    graph_meetings.next_link_base = "https://elsewhere.example"
    with pytest.raises(GraphError, match="foreign_next_link"):
        await calls(graph_meetings, listing)
    assert graph_meetings.hits["calendar"] == 1


async def test_a_wrong_client_secret_is_a_token_error_not_retried(graph_meetings):
    settings = TeamsSettings(**{**graph_meetings.settings(), "client_secret": "wrong"})
    with pytest.raises(GraphError) as refused:
        await calls(graph_meetings, listing, settings=settings)
    assert (refused.value.status, refused.value.code, refused.value.retryable) == (0, "token_invalid_client", False)
    assert graph_meetings.hits["calendar"] == 0
