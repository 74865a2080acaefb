"""The real zoomus client against the fake Zoom API: lazy token, paging, 401 renewal, 500 backoff."""
from __future__ import annotations

import logging

import pytest

from bot.core.settings import ZoomSettings
from integrations.zoom.client import TOKEN_LIFETIME_SECONDS, ZoomApi, ZoomApiError
from tests.fakes.zoom_api import ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET, FakeZoom


def zoom_settings(fake: FakeZoom, secret: str = CLIENT_SECRET) -> ZoomSettings:
    return ZoomSettings(
        webhook_secret_token="x", account_id=ACCOUNT_ID, client_id=CLIENT_ID, client_secret=secret,
        api_base_url=f"{fake.base}/v2", oauth_url=f"{fake.base}/oauth/token",
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


async def test_the_client_is_created_lazily_and_lists_every_page(zoom):
    zoom.meetings["u1"] = [{"id": n, "type": 2, "start_time": f"2026-12-01T1{n}:00:00Z"} for n in range(5)]
    api = ZoomApi(zoom_settings(zoom))
    assert zoom.token_requests == 0  # nothing connects until the first call
    listed = await api.upcoming_meetings("u1")
    assert [m["id"] for m in listed] == [0, 1, 2, 3, 4]
    assert zoom.token_requests == 1
    assert [q.get("next_page_token") for _, q in zoom.calls] == [None, "2", "4"]
    assert all(q["type"] == "upcoming" for _, q in zoom.calls)


async def test_an_expired_token_is_renewed_on_401_and_the_call_repeated(zoom):
    zoom.users["u1"] = {"id": "u1", "jid": "u1@xmpp.zoom.us"}
    api = ZoomApi(zoom_settings(zoom))
    assert (await api.user("u1"))["jid"] == "u1@xmpp.zoom.us"
    zoom.expire_tokens()
    assert (await api.user("u1"))["jid"] == "u1@xmpp.zoom.us"
    assert zoom.token_requests == 2
    assert [path for path, _ in zoom.calls] == ["/v2/users/u1"] * 3  # ok, 401, ok


async def test_the_token_is_renewed_before_its_hour_is_up(zoom):
    zoom.users["u1"] = {"id": "u1"}
    clock = Clock()
    api = ZoomApi(zoom_settings(zoom), monotonic=clock)
    await api.user("u1")
    clock.now += TOKEN_LIFETIME_SECONDS - 1
    await api.user("u1")
    assert zoom.token_requests == 1
    clock.now += 2
    await api.user("u1")
    assert zoom.token_requests == 2
    assert len(zoom.calls) == 3  # renewed ahead: no call was refused


async def test_server_errors_back_off_doubling_then_succeed(zoom, caplog):
    zoom.details["85746065432"] = {"id": 85746065432, "type": 2, "start_time": "2026-12-01T10:00:00Z"}
    zoom.failures = [500, 503]
    clock = Clock()
    api = ZoomApi(zoom_settings(zoom), backoff_seconds=0.5, sleep=clock.sleep)
    with caplog.at_level(logging.WARNING):
        assert (await api.meeting("85746065432"))["id"] == 85746065432
    assert clock.slept == [0.5, 1.0]
    assert "HTTP 500" in caplog.text and CLIENT_SECRET not in caplog.text


async def test_persistent_failures_raise_after_the_retries_without_leaking_secrets(zoom, caplog):
    zoom.failures = [500] * 10
    clock = Clock()
    api = ZoomApi(zoom_settings(zoom), retries=2, sleep=clock.sleep)
    with caplog.at_level(logging.WARNING), pytest.raises(ZoomApiError, match="after 3 attempts: HTTP 500"):
        await api.upcoming_meetings("u1")
    assert clock.slept == [2.0, 4.0]
    assert CLIENT_SECRET not in caplog.text and "tok-" not in caplog.text


async def test_a_missing_meeting_is_not_retried(zoom):
    clock = Clock()
    api = ZoomApi(zoom_settings(zoom), sleep=clock.sleep)
    with pytest.raises(ZoomApiError, match="HTTP 404"):
        await api.meeting("404404")
    assert clock.slept == []


async def test_wrong_credentials_fail_cleanly_and_are_retried_with_a_new_client(zoom):
    clock = Clock()
    api = ZoomApi(zoom_settings(zoom, secret="wrong"), retries=1, sleep=clock.sleep)
    with pytest.raises(ZoomApiError, match="ZoomAuthFailed"):
        await api.user("u1")
    assert zoom.token_requests == 2 and zoom.calls == []
