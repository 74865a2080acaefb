"""A real `companion serve`: its /metrics count a refused webhook, the events stored and a failed delivery, behind their token."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timezone

import aiohttp

from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson
from tests.conftest import SECRET, THERAPIST_A_HOST, free_port, signed_headers
from tests.fakes.companion_process import CompanionProcess, write_config
from tests.fakes.metrics import Samples, samples
from tests.fakes.zoom_chat import FakeZoomChat

TOKEN = "metrics-token-for-a-real-serve-0123456789"
FAILED_CHAT = ("companion_deliveries_total", (("channel", "zoom_chat"), ("state", "failed")))


async def scrape(http: aiohttp.ClientSession, base: str) -> Samples:
    async with http.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as answer:
        assert answer.status == 200
        return samples(await answer.text())


async def test_metrics_of_a_real_serve_count_a_refused_webhook_stored_events_and_a_failed_delivery(tmp_path):
    chat = FakeZoomChat()
    await chat.start()
    chat.down("message", status=400)  # Zoom refuses the message: retrying cannot mend that, so the delivery fails
    port = free_port()
    config = write_config(
        tmp_path, port,
        zoom="\n".join(f'{key} = "{value}"' for key, value in chat.settings().items()),
        server='public_url = "https://companion.test"',
        extra=f'[metrics]\ntoken = "{TOKEN}"\n',
        therapist='channels = ["dashboard", "zoom_chat"]\nzoom_jid = "ruth.t1@xmpp.zoom.us"',
    )
    server = CompanionProcess(config, port, tmp_path / "server.log")
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.base}/metrics") as answer:
                assert answer.status == 401
            meeting = ScriptedMeeting(datetime.now(timezone.utc).replace(microsecond=0), "85746065432", "metrics==", THERAPIST_A_HOST)
            meeting.started(0)
            meeting.joined(1, ScriptedPerson("1", "Therapist", "P-T", account_id=THERAPIST_A_HOST))
            meeting.recording(2)  # a recording_started alert: a notice, delivered by Zoom chat
            bodies = [json.dumps(body).encode() for _, body in meeting.steps]
            async with http.post(f"{server.base}/webhooks/zoom", data=bodies[0], headers=signed_headers(bodies[0], SECRET + "-not-ours")) as answer:
                assert answer.status == 401
            for raw in bodies:
                async with http.post(f"{server.base}/webhooks/zoom", data=raw, headers=signed_headers(raw)) as answer:
                    assert answer.status == 200
            deadline = time.monotonic() + 30  # a deadline, not a wait: the delivery fails within a second or so
            while (metrics := await scrape(http, server.base)).get(FAILED_CHAT, 0) < 1:
                assert time.monotonic() < deadline, f"no failed delivery counted:\n{server.log.read_text()}"
                await asyncio.sleep(0.2)
    finally:
        server.stop()
        await chat.stop()
    assert metrics[("companion_webhooks_total", (("outcome", "unauthorized"), ("platform", "zoom")))] == 1
    assert metrics[("companion_webhooks_total", (("outcome", "accepted"), ("platform", "zoom")))] == len(bodies)
    assert metrics[("companion_events_stored_total", ())] == len(bodies)
    assert metrics[("companion_notices_total", (("kind", "recording_started"),))] == 1
    assert metrics[FAILED_CHAT] == 1 and chat.hits["message"] == 1
