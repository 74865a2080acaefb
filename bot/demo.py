"""Run a scripted therapy meeting through the real service on loopback and write its summary.

The platform's script (`integrations/<platform>/scripted/demo.py`) runs the platform's scripted servers
and plays the meeting; this module starts the service, does what the therapist does on the pages, prints
the alerts and writes the summary.
"""
from __future__ import annotations

import asyncio
import secrets
import socket
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Protocol

import aiohttp
from aiohttp import web

from bot.config.settings_file import parse_settings
from bot.config.starter import new_key
from bot.core.settings import Settings
from bot.core.timefmt import from_iso, local_text
from bot.services import Services
from bot.storage.files import write_private
from bot.storage.notices import NoticeRow
from bot.tracking.notice_board import Published
from bot.web.app import create_app
from bot.web.passwords import hash_password
from integrations.teams.scripted.demo import TeamsDemo
from integrations.zoom.scripted.demo import ZoomDemo

from .web import keys

TOKEN = secrets.token_urlsafe(24)
ZONE = "Europe/London"
SECONDS_PER_STEP = 0.4  # a fifty-minute meeting replays in a few seconds
DEMO_NOTE = "Said they stepped out to take a delivery; back and settled after."
WAIT_SECONDS = 10


class Script(Protocol):
    """A platform's scripted meeting: its servers, its settings, and the meeting it plays."""

    platform: str
    video_source: str | None  # where the client's frames come from (None: none come)
    session_id: str | None  # set once the meeting has started

    async def start_servers(self, folder: Path) -> None: ...

    async def stop(self) -> None: ...

    def servers(self) -> str: ...

    def settings(self) -> dict[str, dict[str, Any]]: ...

    def play(self, app: web.Application, services: Services, set_clock: Callable[[datetime], None]) -> AsyncIterator[tuple[float, str]]: ...


SCRIPTS: dict[str, Callable[[datetime, Callable[[], datetime]], Script]] = {"zoom": ZoomDemo, "teams": TeamsDemo}


class ScriptClock:
    """The demo's clock: it shows the scripted meeting's time, not the wall clock."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now


def demo_settings(folder: Path, public_url: str, script: Script) -> Settings:
    """Return settings for one demo therapist and client on the script's platform, storing in `folder`."""
    sections = script.settings()
    therapist, client = sections.pop("therapist"), sections.pop("client")
    return parse_settings(
        {
            # Zoom's webhook secret is required whichever platform plays (and RTMS keys, so that it does not warn of
            # untracked video): a Zoom script brings its own.
            "zoom": {"webhook_secret_token": secrets.token_hex(16), "rtms_client_id": "DemoUnused", "rtms_client_secret": secrets.token_hex(16)},
            **sections,
            "server": {"session_key": new_key(), "public_url": public_url},
            "storage": {"url": f"sqlite+aiosqlite:///{folder / 'companion.db'}"},
            "privacy": {"data_key": new_key(), "notes_keys": [new_key()]},  # the demo's own, for its own database
            "therapists": [{"id": "demo", "name": "Demo Therapist", "api_token": TOKEN, "timezone": ZONE, **therapist}],
            "clients": [{"code": "C-17", "therapist": "demo", **client}],
        },
        {},
    )


async def _tick_before_the_call(http: aiohttp.ClientSession, base: str, auth: dict[str, str]) -> None:
    """Have the therapist confirm a few checklist points on the planned appointment, as a page would."""
    async with asyncio.timeout(WAIT_SECONDS):  # the appointment is planned as the meeting is heard of
        while True:
            async with http.get(f"{base}/api/appointments", headers=auth) as response:
                response.raise_for_status()
                appointments = await response.json()
            if appointments:
                break
            await asyncio.sleep(0.05)
    (appointment,) = appointments
    items = appointment["checklist"]["items"]
    for item in items[:3]:
        url = f"{base}/api/appointments/{appointment['appointment_id']}/checklist/{item['id']}"
        async with http.post(url, headers=auth) as response:
            response.raise_for_status()
    print(f"  therapist confirmed 3 of {len(items)} checklist points before the call", flush=True)


def _print_notice(row: NoticeRow) -> None:
    label = "PROMPT" if row.kind == "note_prompt" else "ALERT"  # a prompt is a question, not an alarm
    print(f"  {label} {local_text(from_iso(row.at), ZONE)}  {row.kind} #{row.id}: {row.message}", flush=True)


async def _answer_a_camera_prompt(http: aiohttp.ClientSession, base: str, session_id: str, auth: dict[str, str]) -> None:
    """Have the therapist answer the first camera-off prompt, as a page would, and show the note."""
    async with http.get(f"{base}/api/notices", params={"session_id": session_id, "kind": "note_prompt"}, headers=auth) as response:
        response.raise_for_status()
        prompts = [n for n in await response.json() if "camera" in n["message"]]
    if not prompts:
        print("  (no camera-off prompt to answer)", flush=True)
        return
    prompt = prompts[-1]  # newest first: the last is the first interval's
    body = {"text": DEMO_NOTE, "prompt_id": prompt["id"]}
    async with http.post(f"{base}/api/sessions/{session_id}/notes", json=body, headers=auth) as response:
        response.raise_for_status()
    print(f"  therapist answered prompt #{prompt['id']} ({prompt['message']}): {DEMO_NOTE}", flush=True)


async def _print_notices(queue: asyncio.Queue[Published]) -> None:
    while True:
        item = await queue.get()
        if isinstance(item, NoticeRow):  # the board also publishes delivery changes
            _print_notice(item)


async def _demo_password(app: web.Application) -> str:
    """Give the demo therapist a fresh password for the pages, and return it."""
    password = secrets.token_urlsafe(12)
    await app[keys.SIGN_INS].set_password("demo", hash_password(password), app[keys.CLOCK]())
    return password


def _loopback_socket() -> socket.socket:
    """Return a listening socket on a free loopback port: the service's URL is known before its settings are made."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


async def _play(app: web.Application, script: Script, clock: ScriptClock, base: str, auth: dict[str, str]) -> str:
    """Play the script's meeting, printing each step; the therapist ticks the checklist once it is planned. Return the session id."""
    ticked, live = False, None
    async with aiohttp.ClientSession() as http:
        async for offset, line in script.play(app, app[keys.SERVICES], clock.set):
            print(f"{local_text(clock.now, ZONE)}  {line}", flush=True)
            if offset < 0 and not ticked:
                await _tick_before_the_call(http, base, auth)
                ticked = True
            if script.session_id and live is None:
                live = script.session_id
                print(f"The live page: {base}/sessions/{live}", flush=True)
            await app[keys.EVALUATION].drain()
            await asyncio.sleep(SECONDS_PER_STEP)
    if script.session_id is None:
        raise RuntimeError("the scripted meeting never started")
    return script.session_id


async def run_demo(out_dir: Path | None = None, wait: bool = False, platform: str = "zoom") -> int:
    """Replay the platform's scripted meeting against the service and write the summary; return an exit code.

    With `wait`, the service stays up afterwards (until Ctrl-C) so that a person can read its pages.
    """
    folder = Path(tempfile.mkdtemp(prefix="companion-demo-"))
    out_dir = out_dir or folder
    start = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(second=0, microsecond=0)
    clock = ScriptClock(start - timedelta(minutes=10))  # as the checklist reminder falls due
    script = SCRIPTS[platform](start, clock)
    sock = _loopback_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    runner: web.AppRunner | None = None
    printer: asyncio.Task[None] | None = None
    try:
        await script.start_servers(folder)
        app = create_app(demo_settings(folder, base, script), clock=clock)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        print(f"Session Companion demo ({platform}): service on {base}, {script.servers()}, data in {folder}", flush=True)
        password = await _demo_password(app)
        print(f"The therapist's pages: {base}/sign-in  (id: demo, password: {password})", flush=True)
        printer = asyncio.create_task(_print_notices(app[keys.BOARD].listen()))
        auth = {"Authorization": f"Bearer {TOKEN}"}
        session_id = await _play(app, script, clock, base, auth)
        paths, frames = await _summarise(base, session_id, auth, out_dir)
        _print_results(script.video_source, frames, paths)
        if wait:
            await _serve_until_interrupted(base, session_id)
    finally:
        if printer is not None:
            printer.cancel()
        if runner is not None:
            await runner.cleanup()
        sock.close()
        await script.stop()
    return 0


async def _summarise(base: str, session_id: str, auth: dict[str, str], out_dir: Path) -> tuple[list[Path], dict[str, Any]]:
    """Have the therapist answer a camera prompt, then write the summary as Markdown and HTML; return the paths and the frame count."""
    async with aiohttp.ClientSession() as http:
        await _answer_a_camera_prompt(http, base, session_id, auth)
        async with http.get(f"{base}/api/sessions/{session_id}", headers=auth) as response:
            response.raise_for_status()
            frames = (await response.json())["frames"] or {"count": 0}
        paths = []
        for fmt in ("md", "html"):
            async with http.get(f"{base}/api/sessions/{session_id}/summary?format={fmt}", headers=auth) as response:
                response.raise_for_status()
                path = out_dir / f"summary-{session_id}.{fmt}"
                write_private(path, (await response.text()).encode("utf-8"))
                paths.append(path)
    return paths, frames


def _print_results(video_source: str | None, frames: dict[str, Any], paths: list[Path]) -> None:
    if video_source is not None:
        size = f" at {frames['width']}x{frames['height']}" if frames["count"] else ""
        print(f"Client video frames received over {video_source}: {frames['count']}{size} (counted, never stored)")
    print("Summary written:")
    for path in paths:
        print(f"  {path}")


async def _serve_until_interrupted(base: str, session_id: str) -> None:
    print(f"The summary page: {base}/sessions/{session_id}/summary", flush=True)
    print("The pages stay open until Ctrl-C.", flush=True)
    await asyncio.Event().wait()


def main(wait: bool = True, platform: str | None = None) -> int:
    """Entry point of `companion demo [--platform zoom|teams]` (`--no-wait`: stop once the summary is written)."""
    platform = platform or "zoom"
    if platform not in SCRIPTS:
        print(f"companion demo: --platform must be one of {', '.join(SCRIPTS)}, not {platform!r}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run_demo(wait=wait, platform=platform))
    except KeyboardInterrupt:
        return 130
    except aiohttp.ClientError as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1
