"""Every route driven with generated bodies, headers and query strings, on SQLite and PostgreSQL (Hypothesis).

Whatever arrives: no 5xx, no dropped connection, nothing stored from a refused request, and every session
still readable afterwards. The real service runs in a thread of its own on 127.0.0.1; requests go over
the real HTTP stack with `http.client`, which sends header bytes as given.
"""
from __future__ import annotations

import asyncio
import copy
import http.client
import json
import os
import ssl
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, urlencode

import aiohttp.connector
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.config.settings_file import parse_settings
from bot.core.events import FRAMING_CHANGES, MeetingRef
from bot.core.join_urls import join_url_key
from bot.storage import schema
from bot.storage.subscriptions import Subscription
from bot.web import keys
from bot.web.app import create_app
from integrations.teams import keys as teams_keys
from integrations.zoom.events import HANDLERS
from integrations.zoom.signature import sign
from tests.bot.web.pages.conftest import PASSWORD_A, csrf_of, set_passwords
from tests.conftest import (
    SECRET,
    TOKEN_A,
    TOKEN_B,
    emptied_postgres,
    load_fixture,
    settings_dict,
)
from tests.fakes.botframework import FakeBotFramework
from tests.fakes.entra import FakeEntra
from tests.fakes.graph_calls import call_participant, call_state, roster
from tests.fakes.graph_notifications import (
    call_event,
    notification,
    participant,
    service_key,
    service_key_file,
)
from tests.fakes.tls import loopback_certificate

EXAMPLES = 300  # per route family and database: under a minute in all on two cores
ROUTES = {  # every route of the app, and the family of generated requests that drives it
    ("GET", "/healthz"): "api",
    ("GET", "/readyz"): "api",
    ("GET", "/metrics"): "api",  # behind its own token here, which the generated requests carry now and then
    ("POST", "/webhooks/zoom"): "webhook",
    ("POST", "/webhooks/teams"): "teams",
    ("POST", "/webhooks/teams/lifecycle"): "teams",
    ("POST", "/webhooks/teams/calls"): "teams",
    ("GET", "/api/sessions"): "api",
    ("GET", "/api/sessions/{session_id}"): "api",
    ("GET", "/api/sessions/{session_id}/summary"): "api",
    ("POST", "/api/sessions/{session_id}/notes"): "api",
    ("POST", "/api/sessions/{session_id}/changes"): "api",
    ("GET", "/api/sessions/{session_id}/checklist"): "api",
    ("POST", "/api/sessions/{session_id}/checklist/{item_id}"): "api",
    ("GET", "/api/notices"): "api",
    ("GET", "/api/notices/stream"): "stream",
    ("POST", "/api/stream-tickets"): "api",
    ("GET", "/api/appointments"): "api",
    ("GET", "/api/appointments/{appointment_id}/checklist"): "api",
    ("POST", "/api/appointments/{appointment_id}/checklist/{item_id}"): "api",
    ("PUT", "/api/appointments/{appointment_id}/client"): "api",
    ("GET", "/api/clients"): "api",
    ("POST", "/api/clients"): "api",
    ("GET", "/api/clients/vocabulary"): "api",
    ("PUT", "/api/clients/{code}"): "api",
    ("DELETE", "/api/clients/{code}"): "api",
    ("GET", "/static"): "page",
    ("GET", "/sign-in"): "page",
    ("POST", "/sign-in"): "page",
    ("POST", "/sign-out"): "page",
    ("GET", "/"): "page",
    ("GET", "/appointments/{appointment_id}/checklist"): "page",
    ("POST", "/appointments/{appointment_id}/checklist/{item_id}"): "page",
    ("GET", "/sessions/{session_id}/checklist"): "page",
    ("POST", "/sessions/{session_id}/checklist/{item_id}"): "page",
    ("GET", "/sessions/{session_id}"): "page",
    ("GET", "/sessions/{session_id}/live.json"): "page",
    ("GET", "/sessions/{session_id}/summary"): "page",
    ("GET", "/sessions/{session_id}/summary.md"): "page",
    ("GET", "/sessions/{session_id}/summary.html"): "page",
    ("GET", "/sessions/{session_id}/summary.pdf"): "page",
    ("GET", "/clients"): "page",
    ("POST", "/clients"): "page",
    ("POST", "/clients/{code}/delete"): "page",
    ("POST", "/appointments/{appointment_id}/client"): "page",
}
TEAMS_USER, TEAMS_SUBSCRIPTION, TEAMS_STATE = "0c1d2e3f-0000-4a6b-9c1d-7e2f5a6b8c01", "sub-fuzz-1", "fuzz-client-state-41"
BOT_CALL = "7e0c1d2e-fuzz-4a6b-9c1d-000000000001"  # a calling bot's call the service knows
JOIN_URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_ZnV6eg%40thread.v2/0"
METRICS_TOKEN = "fuzz-metrics-token-0123456789abcdef"
DERANDOMIZE = not os.environ.get("FUZZ_RANDOM")  # the same examples in every CI run; FUZZ_RANDOM=1 explores
TABLES = [
    schema.sessions, schema.events, schema.notices, schema.notes, schema.due_work, schema.checklist_ticks, schema.deliveries,
    schema.client_profiles, schema.client_meetings, schema.session_clients, schema.platform_subscriptions, schema.bot_calls,
    schema.stream_tickets,
]


class Service:
    """The real app on a loopback port, its event loop in a thread, so synchronous Hypothesis tests can drive it."""

    def __init__(self, storage_url: str, key_directory: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.entra = FakeEntra()  # Graph's token keys, so that notifications with good tokens reach decryption
        self.run(self.entra.start())
        # The Bot Framework's keys, over HTTPS the service trusts, so that callbacks with good tokens reach the bot.
        tls, cafile = loopback_certificate(key_directory)
        self._trust = pytest.MonkeyPatch()
        self._trust.setattr(aiohttp.connector, "_SSL_CONTEXT_VERIFIED", ssl.create_default_context(cafile=str(cafile)))
        self.bot_framework = FakeBotFramework()
        self.run(self.bot_framework.start(tls))
        # The service decrypts with the key the notifications are encrypted to; no calendar sync runs.
        teams = {
            **self.entra.settings(), "graph_base_url": self.entra.authority_host, "encryption_key_file": service_key_file(key_directory),
            "bot_openid_url": self.bot_framework.openid_url,
        }
        raw = settings_dict(
            storage_url, teams=teams, server={"public_url": "https://companion.test"}, reminders={"sync_interval_minutes": 0}, metrics={"token": METRICS_TOKEN},
        )
        raw["therapists"][0]["teams_user_id"] = TEAMS_USER
        self.app = create_app(parse_settings(raw, {}))
        self.port = self.run(self._start())
        subscription = Subscription(TEAMS_SUBSCRIPTION, "teams", "t1", join_url_key(JOIN_URL), "meetingCallEvents", datetime(2030, 1, 1, tzinfo=timezone.utc))
        self.run(self.app[teams_keys.SUBSCRIPTIONS].put(subscription, TEAMS_STATE, datetime.now(timezone.utc)))
        self.run(self._bot_call())

    async def _bot_call(self) -> None:
        """A call the calling bot is in (as if it had joined this meeting's call), so callbacks about it reach its roster."""
        calls = self.app[teams_keys.CALLING_BOT].calls
        now = datetime.now(timezone.utc)
        meeting = MeetingRef("teams", f"{join_url_key(JOIN_URL)}@fuzz", join_url_key(JOIN_URL), TEAMS_USER)
        await calls.claim("s-fuzz-bot-call", "t1", meeting, now, timedelta(minutes=2))
        await calls.joined("s-fuzz-bot-call", BOT_CALL, "established", now)

    def run(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _start(self) -> int:
        from aiohttp import web

        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return self._runner.addresses[0][1]

    def stop(self) -> None:
        self.run(self._runner.cleanup())
        self.run(self.entra.stop())
        self.run(self.bot_framework.stop())
        self._trust.undo()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def counts(self) -> dict[str, int]:
        async def count() -> dict[str, int]:
            await self.app[keys.EVALUATION].drain()
            async with self.app[keys.STORE].engine.connect() as conn:
                return {t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one() for t in TABLES}

        return self.run(count())

    def request(self, method: str, path: str, headers: list[tuple[str, bytes]], body: bytes = b"", stream: bool = False) -> tuple[int, bytes]:
        """Send one request; a dropped connection or a 5xx fails the test."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value.replace(b"\r", b" ").replace(b"\n", b" "))  # http.client refuses line breaks
            if method in ("POST", "PUT") or body:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            response = conn.getresponse()
            data = b"" if stream and response.status == 200 else response.read()
            return response.status, data
        finally:
            conn.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz') / 'companion.db'}"
    else:
        url = request.getfixturevalue("postgres_url_for_module")
    service = Service(url, tmp_path_factory.mktemp("fuzz-key"))
    for body in load_fixture("zoom/session_reconnect_recording_visitor.json"):
        raw = json.dumps(body).encode()
        status, _ = service.request("POST", "/webhooks/zoom", signed(raw), raw)
        assert status == 200
    service.run(set_passwords(service.app))
    service.cookie, service.csrf = sign_in_over_http(service)
    yield service
    service.stop()


def sign_in_over_http(service: Service) -> tuple[bytes, str]:
    """Sign therapist t1 in through the form as a browser does; return the cookie header and the CSRF token."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=20)
    conn.request("GET", "/sign-in")
    response = conn.getresponse()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = csrf_of(response.read().decode())
    form = urlencode({"csrf_token": token, "account": "t1", "password": PASSWORD_A, "next": "/"})
    conn.request("POST", "/sign-in", form, {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    assert response.status == 303, response.status
    cookie = response.getheader("Set-Cookie").split(";")[0]
    conn.request("GET", "/", headers={"Cookie": cookie})
    response = conn.getresponse()
    token = csrf_of(response.read().decode())
    conn.close()
    return cookie.encode(), token


@pytest.fixture(scope="module")
def postgres_url_for_module(postgres_database: str) -> str:
    return emptied_postgres(postgres_database)


def signed(raw: bytes, secret: str = SECRET) -> list[tuple[str, bytes]]:
    stamp = str(int(time.time()))
    return [("x-zm-request-timestamp", stamp.encode()), ("x-zm-signature", sign(secret, stamp, raw).encode()), ("Content-Type", b"application/json")]


def assert_all_readable(service: Service) -> None:
    for token in (TOKEN_A, TOKEN_B):
        auth = [("Authorization", f"Bearer {token}".encode())]
        status, body = service.request("GET", "/api/sessions?limit=200", auth)
        assert status == 200, body
        for listed in json.loads(body):
            assert listed["status"] != "unreadable", listed
            for tail in ("", "/summary", "/checklist"):
                status, body = service.request("GET", f"/api/sessions/{listed['session_id']}{tail}", auth)
                assert status == 200, (tail, body)


# --- what gets generated -------------------------------------------------------------------------

nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "\ud800", "lone \udfff", "²", "٣", "9" * 40, "-1", "2147483648", "9223372036854775808", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "../../etc", "<script>"]),
)
nasty_bytes = st.one_of(st.binary(max_size=40), st.sampled_from([b"\xff\xfe", b"\xc3(", b"Bearer \xff", b"Bearer " + TOKEN_A.encode() + b"\xc3"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False) | nasty_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
    max_leaves=12,
)


client_bodies = st.fixed_dictionaries(
    {"code": st.sampled_from(["C-21", "c-22", "C-17", None]) | nasty_text},
    optional={
        "mode": st.sampled_from(["online", "face_to_face"]) | json_values,
        "flags": st.lists(st.sampled_from(["animals", "animls", "minor_attracted"]) | nasty_text, max_size=3) | json_values,
        "meeting_ids": st.lists(st.sampled_from(["85746065432", "999"]) | nasty_text, max_size=3) | json_values,
        "emails": st.lists(nasty_text, max_size=2) | json_values,
        "display_names": st.lists(nasty_text, max_size=2) | json_values,
    },
)


def url_part(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@st.composite
def api_requests(draw: st.DrawFn, session_id: str) -> tuple[str, str, list[tuple[str, bytes]], bytes]:
    (method, template), _ = draw(st.sampled_from([r for r in ROUTES.items() if r[1] == "api"]))
    fill = {
        "session_id": draw(st.sampled_from([session_id, "s" + "0" * 20]) | nasty_text),
        "appointment_id": draw(st.sampled_from(["a" + "0" * 20]) | nasty_text),
        "item_id": draw(st.sampled_from(["no_family_photos", "dressed"]) | nasty_text),
        "code": draw(st.sampled_from(["C-17", "C-21", "c-21"]) | nasty_text),
    }
    path = template.format(**{k: url_part(v) or "x" for k, v in fill.items()})
    query = draw(st.dictionaries(st.sampled_from(["limit", "platform", "meeting_uuid", "session_id", "kind", "format", "access_token", "ticket"]) | nasty_text, nasty_text, max_size=3))
    if query:
        path += "?" + "&".join(f"{url_part(k)}={url_part(v)}" for k, v in query.items())
    token = draw(st.sampled_from([f"Bearer {TOKEN_A}".encode(), f"Bearer {TOKEN_B}".encode(), f"Bearer {METRICS_TOKEN}".encode()]) | nasty_bytes)
    headers = [("Authorization", token)]
    if method in ("POST", "PUT"):
        body = draw(st.one_of(
            st.binary(max_size=64),
            json_values.map(lambda v: json.dumps(v).encode()),
            st.fixed_dictionaries({"text": nasty_text}, optional={"prompt_id": json_values | st.integers(0, 50)}).map(lambda v: json.dumps(v).encode()),
            st.fixed_dictionaries({"kind": st.sampled_from(FRAMING_CHANGES) | nasty_text}, optional={"detail": json_values}).map(lambda v: json.dumps(v).encode()),
            client_bodies.map(lambda v: json.dumps(v).encode()),
        ))
        headers.append(("Content-Type", draw(st.sampled_from([b"application/json", b"text/plain", b"application/json; charset=latin-1"]) | nasty_bytes)))
    else:
        body = b""
    return method, path, headers, body


@st.composite
def page_requests(draw: st.DrawFn, session_id: str, cookie: bytes, csrf: str) -> tuple[str, str, list[tuple[str, bytes]], bytes]:
    """A browser's request to a page: signed in or not, with the page's CSRF token or another, and any form."""
    (method, template), _ = draw(st.sampled_from([r for r in ROUTES.items() if r[1] == "page"]))
    fill = {
        "session_id": draw(st.sampled_from([session_id, "s" + "0" * 20]) | nasty_text),
        "appointment_id": draw(st.sampled_from(["a" + "0" * 20]) | nasty_text),
        "item_id": draw(st.sampled_from(["no_family_photos", "dressed"]) | nasty_text),
        "code": draw(st.sampled_from(["C-17", "C-99"]) | nasty_text),
    }
    path = template.format(**{k: url_part(v) or "x" for k, v in fill.items()})
    if template == "/static":
        path += "/" + draw(st.sampled_from(["companion.css", "live.js", "../templates/base.html", "%2e%2e/pages/__init__.py"]) | nasty_text.map(url_part))
    query = draw(st.dictionaries(st.sampled_from(["next", "last_event_id"]) | nasty_text, nasty_text, max_size=2))
    if query:
        path += "?" + "&".join(f"{url_part(k)}={url_part(v)}" for k, v in query.items())
    headers = [("Cookie", draw(st.sampled_from([cookie, b"companion_sign_in=" + cookie[-20:]]) | nasty_bytes))]
    body = b""
    if method == "POST":
        form = draw(st.dictionaries(st.sampled_from(["csrf_token", "account", "password", "next", "code", "mode", "flags", "meeting_ids"]) | nasty_text, nasty_text, max_size=5))
        if draw(st.booleans()):
            form["csrf_token"] = csrf
        body = urlencode({k.encode("utf-8", "surrogatepass"): v.encode("utf-8", "surrogatepass") for k, v in form.items()}).encode()
        headers.append(("Content-Type", draw(st.sampled_from([b"application/x-www-form-urlencoded", b"multipart/form-data", b"application/json"]) | nasty_bytes)))
    return method, path, headers, body


@st.composite
def webhook_bodies(draw: st.DrawFn) -> bytes:
    """A delivery that looks like Zoom's, with any of its fields replaced by anything."""
    deliveries = load_fixture("zoom/session_reconnect_recording_visitor.json")
    body = copy.deepcopy(draw(st.sampled_from(deliveries)))
    body["event"] = draw(st.sampled_from(sorted(HANDLERS)) | st.just(body["event"]) | nasty_text)
    body["payload"]["object"]["uuid"] = draw(st.sampled_from(["fuzz+meeting==", body["payload"]["object"]["uuid"]]))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["event_ts", "payload", "object", "participant"]))
        value = draw(json_values)
        if where == "event_ts":
            body["event_ts"] = draw(st.integers(min_value=-(2**64), max_value=2**64) | st.just(value))
        elif where == "payload":
            body["payload"][draw(st.sampled_from(["object", "account_id", "plainToken"]))] = value
        elif where == "object" and isinstance(body["payload"].get("object"), dict):
            body["payload"]["object"][draw(st.sampled_from(["id", "uuid", "host_id", "start_time", "duration", "type", "occurrences", "participant", "end_time"]))] = value
        elif isinstance(body["payload"].get("object"), dict) and isinstance(body["payload"]["object"].get("participant"), dict):
            field = draw(st.sampled_from(["user_id", "user_name", "id", "participant_uuid", "email", "join_time", "leave_time", "date_time"]))
            body["payload"]["object"]["participant"][field] = value
    return json.dumps(body).encode()


@st.composite
def teams_requests(draw: st.DrawFn, entra: FakeEntra) -> tuple[str, bytes]:
    """A Graph notification or lifecycle delivery: right or wrong clientState and tokens, content encrypted or tampered, any field replaced."""
    path = draw(st.sampled_from(["/webhooks/teams", "/webhooks/teams/lifecycle"]))
    if draw(st.integers(0, 9)) == 0:
        return path + "?validationToken=" + url_part(draw(nasty_text)), b""
    kind = draw(st.sampled_from(["callStarted", "callEnded", "rosterUpdated"]) | nasty_text)
    people = [participant(draw(st.sampled_from(["p1", "p2"])), draw(st.sampled_from([None, TEAMS_USER])), "Fuzz Person", lobby=draw(st.booleans()), left=draw(st.booleans()))]
    payload = call_event(JOIN_URL, kind, draw(st.sampled_from(["2025-03-04T14:00:00Z", "2025-03-04T14:10:00.1234567Z"]) | nasty_text), "n1", people)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        payload[draw(st.sampled_from(["eventType", "eventDateTime", "participants@delta", "callEventType"]))] = draw(json_values)
    state = draw(st.sampled_from([TEAMS_STATE] * 4 + [TEAMS_STATE + "x", ""]))
    item = notification(TEAMS_SUBSCRIPTION, state, JOIN_URL, payload, service_key())
    item["lifecycleEvent"] = draw(st.sampled_from(["missed", "reauthorizationRequired"]) | nasty_text)
    if draw(st.integers(0, 3)) == 0:
        item["encryptedContent"]["dataSignature"] = draw(st.sampled_from(["AAAA", item["encryptedContent"]["data"][:44]]) | nasty_text)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        where = draw(st.sampled_from(["subscriptionId", "clientState", "encryptedContent", "data", "dataKey", "encryptionCertificateId"]))
        content = item["encryptedContent"]
        target = content if where in ("data", "dataKey", "encryptionCertificateId") and isinstance(content, dict) else item
        target[where] = draw(json_values)
    tokens = draw(st.sampled_from(["good", "good", "good", "good", "expired", "foreign", "any"]))
    minted = {"good": [entra.mint()], "expired": [entra.mint(lifetime=-900)], "foreign": [entra.mint(aud="another-app")]}
    body = {"value": [item], "validationTokens": minted[tokens] if tokens in minted else draw(json_values)}
    return path, json.dumps(body).encode() if draw(st.integers(0, 9)) else draw(st.binary(max_size=64))


@st.composite
def bot_callbacks(draw: st.DrawFn, framework: FakeBotFramework) -> tuple[list[tuple[str, bytes]], bytes]:
    """A calling bot's callback: a good, expired, foreign or missing token; a roster or a call state, any field replaced."""
    call_id = draw(st.sampled_from([BOT_CALL, BOT_CALL, "unknown-call"]) | nasty_text)
    people = [
        call_participant(draw(st.sampled_from(["c1", "c2"])), draw(st.sampled_from([None, TEAMS_USER])), "Fuzz Person",
                         video=draw(st.sampled_from(["sendReceive", "sendOnly", "receiveOnly", "inactive", None])),
                         app_id=draw(st.sampled_from([None, None, "graph-app-id"])), lobby=draw(st.booleans()), removed=draw(st.booleans()))
        for _ in range(draw(st.integers(0, 3)))
    ]
    notification = draw(st.sampled_from([
        roster(call_id, people, change=draw(st.sampled_from(["updated", "created", "deleted"])), sequence=draw(st.integers(0, 2**63 + 1)), delta=draw(st.booleans())),
        roster(call_id, people),
        call_state(call_id, draw(st.sampled_from(["establishing", "established", "terminated"]) | nasty_text), draw(st.sampled_from([None, 0, 403])), draw(st.sampled_from([None, 5855, 7503, 5001]))),
    ]))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        notification[draw(st.sampled_from(["changeType", "resourceUrl", "resourceData", "sequenceNumber"]))] = draw(json_values)
    body = {"value": [notification]} if draw(st.integers(0, 9)) else draw(json_values)
    tokens = draw(st.sampled_from(["good", "good", "good", "expired", "foreign", "none", "any"]))
    minted = {"good": framework.mint(), "expired": framework.mint(lifetime=-900), "foreign": framework.mint(aud="another-app")}
    headers = [("Content-Type", b"application/json")]
    if tokens in minted:
        headers.append(("Authorization", f"Bearer {minted[tokens]}".encode()))
    elif tokens == "any":
        headers.append(("Authorization", draw(nasty_bytes)))
    return headers, json.dumps(body).encode() if draw(st.integers(0, 9)) else draw(st.binary(max_size=64))


FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)


# --- the properties ------------------------------------------------------------------------------


def test_the_fuzz_covers_every_route(service: Service) -> None:
    served = {(r.method, r.resource.canonical) for r in service.app.router.routes() if r.method != "HEAD"}
    assert served == set(ROUTES), f"routes the fuzz does not drive: {served - set(ROUTES)}; gone: {set(ROUTES) - served}"


@FUZZ
@given(data=st.data())
def test_api_routes_answer_any_request_without_a_5xx_and_refusals_store_nothing(service: Service, data: st.DataObject) -> None:
    (session,) = json.loads(service.request("GET", "/api/sessions", [("Authorization", f"Bearer {TOKEN_A}".encode())])[1])[:1]
    method, path, headers, body = data.draw(api_requests(session["session_id"]))
    before = service.counts()
    status, answer = service.request(method, path, headers, body)
    event(f"{method} {status}")
    assert status < 500, (method, path, answer)
    if status >= 400:
        assert service.counts() == before, (method, path, status)
        assert answer  # a JSON reason from the service, or the HTTP parser's own words for bytes it cannot parse


@FUZZ
@given(data=st.data())
def test_pages_answer_any_request_without_a_5xx_and_refusals_store_nothing(service: Service, data: st.DataObject) -> None:
    (session,) = json.loads(service.request("GET", "/api/sessions", [("Authorization", f"Bearer {TOKEN_A}".encode())])[1])[:1]
    method, path, headers, body = data.draw(page_requests(session["session_id"], service.cookie, service.csrf))
    before = service.counts()
    status, answer = service.request(method, path, headers, body)
    event(f"{method} {status}")
    assert status < 500, (method, path, answer)
    if status >= 400:
        assert service.counts() == before, (method, path, status)


@FUZZ
@given(raw=webhook_bodies(), sign_it=st.sampled_from([True, True, True, False]))
def test_signed_or_not_any_webhook_body_is_answered_without_a_5xx_and_refusals_store_nothing(service: Service, raw: bytes, sign_it: bool) -> None:
    before = service.counts()
    headers = signed(raw) if sign_it else signed(raw, secret=SECRET + "-wrong")
    status, answer = service.request("POST", "/webhooks/zoom", headers, raw)
    event(f"{status} {answer[:40]!r}" if status < 300 else str(status))
    assert status < 500, answer
    if status >= 400:
        assert service.counts() == before, status
    if not sign_it:
        assert status == 401


@FUZZ
@given(data=st.data())
def test_teams_notifications_are_answered_without_a_5xx_and_refusals_store_nothing(service: Service, data: st.DataObject) -> None:
    path, raw = data.draw(teams_requests(service.entra))
    before = service.counts()
    status, answer = service.request("POST", path, [("Content-Type", b"application/json")], raw)
    event(f"{path.split('?')[0]} {status}")
    assert status < 500, answer
    if status >= 400:
        assert service.counts() == before, status


@FUZZ
@given(data=st.data())
def test_calling_bot_callbacks_are_answered_without_a_5xx_and_refusals_store_nothing(service: Service, data: st.DataObject) -> None:
    headers, raw = data.draw(bot_callbacks(service.bot_framework))
    before = service.counts()
    status, answer = service.request("POST", "/webhooks/teams/calls", headers, raw)
    event(str(status))
    assert status < 500, answer
    if status >= 400:
        assert service.counts() == before, status
    if not any(name == "Authorization" and value.startswith(b"Bearer eyJ") for name, value in headers):
        assert status in (400, 401)  # 400: a header the HTTP parser itself refuses


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)
@given(
    last_event_id=nasty_text,
    token=nasty_bytes | st.just(f"Bearer {TOKEN_A}".encode()),
    ticket=st.none() | st.just("fresh") | nasty_text,
)
def test_the_notice_stream_answers_any_request_without_a_5xx(service: Service, last_event_id: str, token: bytes, ticket: str | None) -> None:
    path = "/api/notices/stream?last_event_id=" + url_part(last_event_id)
    if ticket == "fresh":
        status, answer = service.request("POST", "/api/stream-tickets", [("Authorization", f"Bearer {TOKEN_B}".encode())])
        assert status == 201, answer
        ticket = json.loads(answer)["ticket"]
    if ticket is not None:
        path += "&ticket=" + url_part(ticket)
    status, answer = service.request("GET", path, [("Authorization", token), ("Last-Event-ID", last_event_id.encode("utf-8", "surrogatepass"))], stream=True)
    assert status < 500, answer


def test_every_session_is_still_readable_after_the_fuzz(service: Service) -> None:
    assert_all_readable(service)
