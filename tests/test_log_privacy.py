"""Logs hold no token, secret, note text, name, email or topic: a whole flow at DEBUG, and the whole test run.

Every test is checked as it ends (tests/conftest.py greps what it logged, every library included, for
tests/fakes/sensitive.py's values); the last test reads the whole run's log once more.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from bot.config.settings_file import parse_settings
from bot.web import keys
from bot.web.app import create_app
from tests.conftest import SECRET, TOKEN_A, load_fixture, settings_dict, signed_headers
from tests.fakes.clock import ManualClock
from tests.fakes.sensitive import leaks

# A meeting whose people have names and emails, a topic that names the client, and a note: all of it
# passes through the service below, and none of it may reach a log line.
FLOW_NAME, FLOW_EMAIL = "Ingrid Vasquez-Holt", "ingrid.vh@example.org"
FLOW_VISITOR, FLOW_VISITOR_EMAIL = "Oskar Brandvold", "oskar.b@example.com"
FLOW_TOPIC, FLOW_NOTE = "Therapy with Ingrid Vasquez-Holt", "She mentioned the allotment shed key"
FLOW_VALUES = [FLOW_NAME, FLOW_EMAIL, FLOW_VISITOR, FLOW_VISITOR_EMAIL, FLOW_TOPIC, FLOW_NOTE, TOKEN_A, SECRET]


def _renamed(deliveries: list[dict]) -> list[dict]:
    """Return the scripted meeting with this test's people, emails and topic in place of the fixture's."""
    text = json.dumps(deliveries)
    for old, new in (("Sam Client", FLOW_NAME), ("sam.client@example.net", FLOW_EMAIL), ("Alex Visitor", FLOW_VISITOR),
                     ("Weekly session", FLOW_TOPIC)):
        text = text.replace(old, new)
    found = json.loads(text)
    for body in found:  # the visitor has no email in the fixture: give them one
        participant = body["payload"]["object"].get("participant", {})
        if participant.get("user_name") == FLOW_VISITOR:
            participant["email"] = FLOW_VISITOR_EMAIL
    return found


async def test_a_whole_meeting_at_debug_logs_no_name_email_topic_note_or_token(aiohttp_client, sqlite_url, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger, so every library logs whatever it would at DEBUG
    raw = settings_dict(sqlite_url, privacy={"retention_days": 30}, clients=[
        {"code": "C-17", "therapist": "t1", "zoom_meeting_ids": ["85746065432"], "emails": [FLOW_EMAIL], "display_names": [FLOW_NAME]},
    ])
    clock = ManualClock(load_fixture_time())
    client = await aiohttp_client(create_app(parse_settings(raw, {}), clock))
    auth = {"Authorization": f"Bearer {TOKEN_A}"}
    for body in _renamed(load_fixture("zoom/session_reconnect_recording_visitor.json")):
        data = json.dumps(body).encode()
        assert (await client.post("/webhooks/zoom", data=data, headers=signed_headers(data))).status == 200
    await client.app[keys.EVALUATION].drain()
    (row,) = await client.app[keys.STORE].sessions("t1")
    assert (await client.post(f"/api/sessions/{row.id}/notes", json={"text": FLOW_NOTE}, headers=auth)).status == 201
    assert (await client.post(f"/api/sessions/{row.id}/checklist/know_the_client", headers=auth)).status in (200, 201)
    for path in ("", "/summary", "/summary?format=md", "/summary?format=html", "/checklist"):
        assert (await client.get(f"/api/sessions/{row.id}{path}", headers=auth)).status == 200
    assert (await client.get("/api/notices", headers=auth)).status == 200
    ticket = (await (await client.post("/api/stream-tickets", headers=auth)).json())["ticket"]
    stream = await client.get("/api/notices/stream", params={"ticket": ticket, "last_event_id": "0"})
    assert stream.status == 200
    await stream.content.readline()
    stream.close()
    # A month and more later, the day's purge takes the session, every row of it.
    clock.advance(40 * 86400)
    purge = client.app[keys.PURGE]
    told = []
    purge.purged.append(told.append)
    await purge.plan()
    for due in await client.app[keys.TIMEKEEPER].due.pending(kind="retention_purge"):
        await client.app[keys.TIMEKEEPER].fire(due.id)
    assert [r.session_ids for r in told] == [[row.id]]
    lines = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    assert len(caplog.records) > 50, "almost nothing was logged: is the DEBUG capture working?"
    assert [value for value in FLOW_VALUES if value in lines] == [] and leaks(lines) == []


def load_fixture_time():
    """Return a time just after the scripted meeting, so that its events are judged as they happen."""
    from bot.core.timefmt import from_epoch_ms

    return from_epoch_ms(max(d["event_ts"] for d in load_fixture("zoom/session_reconnect_recording_visitor.json")) + 60_000)


def test_the_whole_run_logged_no_secret_or_personal_data_at_debug(debug_log: Path):
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = debug_log.read_text(encoding="utf-8", errors="replace")
    assert len(text) > 10_000, "the run logged almost nothing: is the DEBUG capture working?"
    leaked = leaks(text)
    context = {value: text[max(0, text.index(value) - 200): text.index(value) + 80] for value in leaked}
    assert not leaked, f"the log holds {leaked}: {context}"
