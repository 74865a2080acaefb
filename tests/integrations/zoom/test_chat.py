"""The Zoom chat channel against a fake Zoom on loopback: chatbot token caching, JID lookup with zoomus, faults."""
from __future__ import annotations

import aiohttp
import pytest

from bot.core.message import AlertMessage
from bot.core.settings import Therapist, ZoomSettings
from bot.delivery.retry import DeliveryError
from integrations.zoom.chat import ChatbotToken, ZoomChat
from integrations.zoom.client import ZoomApi
from integrations.zoom.directory import ZoomDirectory
from tests.conftest import THERAPIST_A_HOST
from tests.fakes.fixtures import T1_JID

MESSAGE = AlertMessage(5, "recording_started", "Recording started · C-17", "Someone started recording the meeting.", "https://c/sessions/s1")
THERAPIST = Therapist("t1", "A", "token", zoom_user_id=THERAPIST_A_HOST)


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_chatbot_token_is_reused_until_shortly_before_it_expires(fake_zoom):
    fake_zoom.expires_in = 120
    ticks = Ticks()
    async with aiohttp.ClientSession() as http:
        token = ChatbotToken(ZoomSettings(**fake_zoom.settings()), http, ticks)
        first = await token.get()
        ticks.now += 59
        assert await token.get() == first
        ticks.now += 2  # within a minute of expiry
        assert await token.get() != first
    assert fake_zoom.hits["token"] == 2
    assert fake_zoom.received[0].headers["Authorization"].startswith("Basic ")


async def test_a_refused_token_is_dropped_and_the_next_send_fetches_a_new_one(fake_zoom):
    async with aiohttp.ClientSession() as http:
        settings = ZoomSettings(**fake_zoom.settings())
        chat = ZoomChat(settings, http, ZoomDirectory(ZoomApi(settings, retries=0)))
        await chat.send(THERAPIST, MESSAGE)
        fake_zoom.chatbot_tokens.clear()  # Zoom revoked it
        with pytest.raises(DeliveryError) as refused:
            await chat.send(THERAPIST, MESSAGE)
        assert (refused.value.code, refused.value.retryable) == ("http_401", True)
        await chat.send(THERAPIST, MESSAGE)
    assert len(fake_zoom.bodies("message")) == 2 and len(fake_zoom.chatbot_tokens) == 1


async def test_the_jid_is_looked_up_once_with_zoomus_which_refreshes_an_expired_token(fake_zoom):
    fake_zoom.api.users["other-user"] = {"id": "other-user", "jid": "other@xmpp.zoom.us"}
    fake_zoom.api.users["no-chat"] = {"id": "no-chat"}
    directory = ZoomDirectory(ZoomApi(ZoomSettings(**fake_zoom.settings()), retries=0))
    assert await directory.jid(THERAPIST_A_HOST) == T1_JID
    assert await directory.jid(THERAPIST_A_HOST) == T1_JID
    fake_zoom.api.expire_tokens()
    assert await directory.jid("other-user") == "other@xmpp.zoom.us"
    assert fake_zoom.api.token_requests == 2
    assert [path for path, _ in fake_zoom.api.calls] == [f"/v2/users/{THERAPIST_A_HOST}", "/v2/users/other-user", "/v2/users/other-user"]
    for user_id, code, retryable in [("nobody", "jid_refused", False), ("no-chat", "jid_missing", False)]:
        with pytest.raises(DeliveryError) as refused:
            await directory.jid(user_id)
        assert (refused.value.code, refused.value.retryable) == (code, retryable)
    fake_zoom.api.failures.append(503)
    with pytest.raises(DeliveryError) as unavailable:
        await directory.jid("other-user-2")
    assert (unavailable.value.code, unavailable.value.retryable) == ("jid_unavailable", True)


async def test_an_unreachable_zoom_is_a_retryable_failure(fake_zoom):
    settings = ZoomSettings(**fake_zoom.settings())
    await fake_zoom.stop()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(DeliveryError) as down:
            await ZoomChat(settings, http, ZoomDirectory(ZoomApi(settings, retries=0))).send(THERAPIST, MESSAGE)
    assert (down.value.code, down.value.retryable) == ("jid_unavailable", True)
