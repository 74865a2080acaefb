"""Each request's id: in its answer, on the lines logged while serving it, and on its access log line (JSON logs of a real serve)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import aiohttp

from integrations.zoom.scripted.webhooks import ScriptedMeeting
from tests.conftest import THERAPIST_A_HOST, TOKEN_A, free_port, signed_headers
from tests.fakes.companion_process import CompanionProcess, write_config

QUERY_VALUE = "q-uuid-never-logged"


def started_webhook() -> bytes:
    meeting = ScriptedMeeting(datetime.now(timezone.utc).replace(microsecond=0), "85746065432", "ids==", THERAPIST_A_HOST)
    meeting.started(0)
    return json.dumps(meeting.steps[0][1]).encode()


async def test_json_logs_are_one_object_a_line_and_carry_the_request_id_and_no_query_string(tmp_path):
    port = free_port()
    server = CompanionProcess(write_config(tmp_path, port, extra='[logging]\nformat = "json"\nlevel = "DEBUG"\n'), port, tmp_path / "server.log")
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            listing = f"{server.base}/api/sessions?platform=zoom&meeting_uuid={QUERY_VALUE}"
            async with http.get(listing, headers={"Authorization": f"Bearer {TOKEN_A}"}) as answer:
                assert answer.status == 200
                listed_id = answer.headers["X-Request-Id"]
            body = started_webhook()
            async with http.post(f"{server.base}/webhooks/zoom", data=body, headers=signed_headers(body)) as answer:
                assert answer.status == 200
                webhook_id = answer.headers["X-Request-Id"]
            async with http.get(f"{server.base}/no-such-page?{QUERY_VALUE}=1") as answer:
                assert answer.status == 404 and answer.headers["X-Request-Id"] not in (listed_id, webhook_id)
    finally:
        server.stop()
    text = server.log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    (listed,) = [line for line in lines if line.get("request_id") == listed_id]
    assert listed["logger"] == "aiohttp.access" and '"GET /api/sessions" 200' in listed["message"] and listed["message"].endswith(listed_id)
    # The service's own line about what it stored (DEBUG), written while serving the webhook, carries the webhook's id;
    # its access line is a sum of the webhooks answered 2xx (bot/web/webhook_lines.py), no one request's.
    assert "bot.tracking.tracker" in {line["logger"] for line in lines if line.get("request_id") == webhook_id}
    access = [line["message"] for line in lines if line["logger"] == "aiohttp.access"]
    (summed,) = [line for line in lines if line["logger"] == "aiohttp.access" and line["message"].startswith('1 x "POST /webhooks/zoom" 200 ')]
    assert "request_id" not in summed and webhook_id not in text.replace(f'"request_id": "{webhook_id}"', "")
    assert len(access) >= 4 and not any("?" in message for message in access)
    assert QUERY_VALUE not in text and "meeting_uuid" not in text


async def test_ids_count_up_from_a_random_start_and_stay_sixteen_hex_digits(aiohttp_client, settings, monkeypatch):
    import secrets

    from bot.web.app import create_app

    monkeypatch.setattr(secrets, "randbits", lambda bits: (1 << bits) - 2)  # a start just short of the wrap
    client = await aiohttp_client(create_app(settings))
    ids = [(await client.get("/healthz")).headers["X-Request-Id"] for _ in range(3)]
    assert ids == ["fffffffffffffffe", "ffffffffffffffff", "0000000000000000"]
