"""Run a scripted therapy meeting through the real service on loopback and write its summary."""
from __future__ import annotations

import asyncio
import json
import secrets
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from aiohttp import web

from integrations.zoom.scripted import ScriptedMeeting, ScriptedPerson
from integrations.zoom.signature import sign

from . import keys
from .app import create_app
from .settings import Settings, parse_settings
from .notices import Published
from .store import NoticeRow, session_id_for
from .timefmt import from_iso, local_text

HOST_ID = "DemoHost7xQ2mL0vB9kR4w"
TOKEN = secrets.token_urlsafe(24)
ZONE = "Europe/London"
SECONDS_PER_STEP = 0.4  # a fifty-minute meeting replays in a few seconds


class ScriptClock:
    """The demo's clock: it shows the scripted meeting's time, not the wall clock."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def demo_settings(folder: Path, secret: str) -> Settings:
    """Return settings for one demo therapist and client, storing in `folder`."""
    return parse_settings(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{folder / 'companion.db'}"},
            "zoom": {"webhook_secret_token": secret},
            "therapists": [{"id": "demo", "name": "Demo Therapist", "api_token": TOKEN, "zoom_user_id": HOST_ID, "timezone": ZONE}],
            "clients": [{"code": "C-17", "therapist": "demo", "zoom_meeting_ids": ["81234567890"]}],
        },
        {},
    )


def demo_meeting(start: datetime) -> ScriptedMeeting:
    """Return the scripted session: a dropout and rejoin, a recording, a brief third person."""
    meeting = ScriptedMeeting(start, "81234567890", "Dm0+Sess1onUuid00000A==", HOST_ID, topic="Weekly session")
    therapist = ScriptedPerson("16778240", "Demo Therapist", "0001-THERAPIST", account_id=HOST_ID)
    client = ScriptedPerson("16779264", "Client Person", "0002-CLIENT", email="client@example.invalid")
    visitor = ScriptedPerson("16781312", "Unknown Visitor", "0003-VISITOR")
    meeting.started(0)
    meeting.joined(20, therapist)
    meeting.joined(95, client)
    meeting.left(1260, client)
    meeting.joined(1310, client.rejoined("16780288"))
    meeting.recording(1800)
    meeting.recording(1900, started=False)
    meeting.joined(2400, visitor)
    meeting.left(2475, visitor)
    meeting.left(3000, client.rejoined("16780288"))
    meeting.left(3010, therapist)
    meeting.ended(3012)
    return meeting


def _print_notice(row: NoticeRow) -> None:
    print(f"  ALERT {local_text(from_iso(row.at), ZONE)}  {row.kind}: {row.message}", flush=True)


async def _print_notices(queue: asyncio.Queue[Published]) -> None:
    while True:
        item = await queue.get()
        if isinstance(item, NoticeRow):  # the board also publishes delivery changes
            _print_notice(item)


async def run_demo(out_dir: Path | None = None) -> int:
    """Replay the script over HTTP against the service and write the summary; return an exit code."""
    folder = Path(tempfile.mkdtemp(prefix="companion-demo-"))
    out_dir = out_dir or folder
    start = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(second=0, microsecond=0)
    clock = ScriptClock(start)
    secret = secrets.token_hex(16)
    app = create_app(demo_settings(folder, secret), clock=clock)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    print(f"Session Companion demo: service on {base}, data in {folder}", flush=True)
    printer = asyncio.create_task(_print_notices(app[keys.BOARD].listen()))
    meeting = demo_meeting(start)
    try:
        async with aiohttp.ClientSession() as http:
            for offset, body in meeting.steps:
                clock.now = start + timedelta(seconds=offset)
                raw = json.dumps(body).encode()  # the exact bytes we sign and send
                stamp = str(int(datetime.now(timezone.utc).timestamp()))
                headers = {"x-zm-request-timestamp": stamp, "x-zm-signature": sign(secret, stamp, raw), "Content-Type": "application/json"}
                async with http.post(f"{base}/webhooks/zoom", data=raw, headers=headers) as response:
                    response.raise_for_status()
                print(f"{local_text(clock.now, ZONE)}  {body['event']}", flush=True)
                await app[keys.EVALUATION].drain()
                await asyncio.sleep(SECONDS_PER_STEP)
            session_id = session_id_for("zoom", meeting.uuid)
            paths = []
            for fmt in ("md", "html"):
                url = f"{base}/api/sessions/{session_id}/summary?format={fmt}"
                async with http.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                    response.raise_for_status()
                    path = out_dir / f"summary-{session_id}.{fmt}"
                    path.write_text(await response.text(), encoding="utf-8")
                    paths.append(path)
    finally:
        printer.cancel()
        await runner.cleanup()
    print("Summary written:")
    for path in paths:
        print(f"  {path}")
    return 0


def main() -> int:
    """Entry point of `companion demo`."""
    try:
        return asyncio.run(run_demo())
    except KeyboardInterrupt:
        return 130
    except aiohttp.ClientError as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1
