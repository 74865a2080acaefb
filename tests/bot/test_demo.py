"""`companion demo`: the scripted meeting runs through the real service on loopback to its summary."""
from __future__ import annotations

import re
import stat

from bot import demo
from integrations.zoom.scripted.demo_photos import demo_person_frames
from tests.raw_read import every_value, file_bytes, found

# What the scripted meetings say of people (names, an email, the meeting's topic) and the therapist's note.
IN_THE_CLEAR = ["Client Person", "Unknown Visitor", "Demo Therapist", "client@example.invalid", "Weekly session", demo.DEMO_NOTE]


def nothing_in_the_clear(folder) -> None:
    """Check the demo's own database keeps no name, email, topic or note in the clear (it makes its own keys)."""
    (db,) = folder.glob("companion-demo-*/companion.db")
    url = f"sqlite+aiosqlite:///{db}"
    assert not found(IN_THE_CLEAR, every_value(url), file_bytes(url) or b"")


def answered_camera_prompts(out: str, folder) -> tuple[list[str], str]:
    """Check a prompt asked about each of the two camera-off intervals and the first has the therapist's note in the summary.

    Return the printed prompts and the summary's Markdown.
    """
    prompts = [line for line in out.splitlines() if line.lstrip().startswith("PROMPT")]
    assert sum("What were they doing?" in line for line in prompts) == 2  # one prompt per camera-off interval
    assert "therapist answered prompt #" in out and demo.DEMO_NOTE in out
    (summary,) = folder.glob("summary-*.md")
    text = summary.read_text(encoding="utf-8")
    assert f"Camera off: off for 3 min, until the camera came back on (camera). Note: {demo.DEMO_NOTE}" in text
    return prompts, text


async def test_the_demo_replays_a_meeting_prints_alerts_and_writes_the_summary(tmp_path, capsys, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the demo's folder, and so its database
    monkeypatch.setattr(demo, "SECONDS_PER_STEP", 0.0)
    assert await demo.run_demo(out_dir=tmp_path) == 0
    out = capsys.readouterr().out
    assert "ALERT" in out and "recording_started" in out and "third_party_joined" in out
    md, html = sorted(tmp_path.glob("summary-*.md")), sorted(tmp_path.glob("summary-*.html"))
    assert len(md) == 1 and len(html) == 1
    assert [stat.S_IMODE(p.stat().st_mode) for p in md + html] == [0o600, 0o600]  # the operator's alone, whatever the umask
    assert str(md[0]) in out and str(html[0]) in out
    text = md[0].read_text()
    assert "Client: C-17" in text and "(client):" in text and "; " in text  # the client's two presence intervals
    nothing_in_the_clear(tmp_path)


async def test_the_demo_shows_real_video_off_intervals_and_alerts_from_rtms(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(demo, "SECONDS_PER_STEP", 0.0)
    assert await demo.run_demo(out_dir=tmp_path) == 0
    out = capsys.readouterr().out
    assert "rtms: client camera off" in out and "rtms: client camera on" in out
    assert re.search(r"Client video frames received over RTMS: [1-9][0-9]* at 640x360", out)
    (summary,) = tmp_path.glob("summary-*.md")
    text = summary.read_text(encoding="utf-8")
    assert "2 interval(s), 4 min 30 s in all, longest 3 min 00 s" in text
    assert text.count("The client's video has been off for 1 min.") == 2


async def test_the_demo_therapist_answers_a_camera_off_prompt_and_the_summary_shows_the_note(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(demo, "SECONDS_PER_STEP", 0.0)
    assert await demo.run_demo(out_dir=tmp_path) == 0
    out = capsys.readouterr().out
    prompts, text = answered_camera_prompts(out, tmp_path)
    # With the vision stack (the test install has it), real frames show the client lying down, then sitting up.
    framing = demo_person_frames() is not None
    assert len(prompts) == (4 if framing else 2)
    assert ("The client seems to be lying down" in out) == framing and ("The client seems to be sitting up again" in out) == framing
    assert "No note: unanswered." in text and f"{3 if framing else 1} of {4 if framing else 2} change(s) have no note." in text
    assert "Client Person" not in out  # the demo's own lines never name the client


async def test_the_demo_prints_how_to_sign_in_and_keeps_its_pages_open_until_stopped(tmp_path, capsys, monkeypatch):
    import asyncio

    import aiohttp

    from tests.bot.web.pages.conftest import csrf_of

    monkeypatch.setattr(demo, "SECONDS_PER_STEP", 0.0)
    running = asyncio.create_task(demo.run_demo(out_dir=tmp_path, wait=True))
    out = ""
    async with asyncio.timeout(120):
        while "stay open until Ctrl-C" not in out:
            await asyncio.sleep(0.2)
            out += capsys.readouterr().out
    assert not running.done()
    sign_in = re.search(r"The therapist's pages: (http://127\.0\.0\.1:\d+)/sign-in  \(id: demo, password: (\S+)\)", out)
    summary = re.search(r"The summary page: (\S+)", out)
    assert sign_in and summary and re.search(r"The live page: http://127\.0\.0\.1:\d+/sessions/s\w+", out)
    base, password = sign_in.groups()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = csrf_of(await (await http.get(f"{base}/sign-in")).text())
        signed_in = await http.post(f"{base}/sign-in", data={"csrf_token": token, "account": "demo", "password": password, "next": "/"})
        assert signed_in.status == 200 and "Hello, Demo Therapist" in await signed_in.text()
        page = await http.get(summary.group(1))
        assert page.status == 200 and "Session summary: C-17" in await page.text()
    running.cancel()
    with __import__("pytest").raises(asyncio.CancelledError):
        await running


def test_an_unknown_platform_is_a_usage_error(capsys):
    from bot import cli

    assert cli.main(["demo", "--platform", "webex", "--no-wait"]) == 2
    assert "--platform must be one of zoom, teams" in capsys.readouterr().err


def test_companion_demo_platform_teams_plays_a_teams_meeting_to_its_summary(tmp_path, capsys, monkeypatch):
    """`companion demo --platform teams --no-wait`: Graph's notifications and the calling bot's callbacks, to the summary."""
    import os
    import tempfile

    import aiohttp.connector

    from bot import cli

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the demo's folder, and so its summary
    monkeypatch.setattr(demo, "SECONDS_PER_STEP", 0.0)
    trusted_before = (os.environ.get("REQUESTS_CA_BUNDLE"), aiohttp.connector._SSL_CONTEXT_VERIFIED)
    assert cli.main(["demo", "--platform", "teams", "--no-wait"]) == 0
    out = capsys.readouterr().out
    assert (os.environ.get("REQUESTS_CA_BUNDLE"), aiohttp.connector._SSL_CONTEXT_VERIFIED) == trusted_before  # trust put back
    assert re.search(r"Session Companion demo \(teams\): service on http://127\.0\.0\.1:\d+, Entra on https://127\.0\.0\.1:\d+, Graph on http://127\.0\.0\.1:\d+", out)
    steps = [line.split("  ", 1)[1] for line in out.splitlines() if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w+  ", line)]
    assert steps == [
        "calendarView: the Teams meeting is planned; the service subscribed to its call events",
        "callStarted",
        "calling bot: the service joined the call (established)",
        "rosterUpdated: therapist joined",
        "rosterUpdated: client joined",
        "calling bot: client camera off",
        "calling bot: client camera on",
        "calling bot: client camera off",
        "calling bot: client camera on",
        "rosterUpdated: a third person joined",
        "rosterUpdated: a third person left",
        "rosterUpdated: client left",
        "rosterUpdated: therapist left",
        "callEnded",
        "calling bot: the service hung up",
    ]
    assert "checklist_reminder" in out and "therapist confirmed 3 of" in out and "third_party_joined" in out
    assert "Client video frames" not in out  # the calling bot reads stream directions; no frames reach the service
    (summary,) = tmp_path.glob("companion-demo-*/summary-*.md")
    assert str(summary) in out
    text = summary.read_text(encoding="utf-8")
    assert "Client: C-17" in text and "(client):" in text and "(other):" in text and "Duration: 50 min 12 s" in text
    assert "2 interval(s), 5 min 00 s in all, longest 3 min 00 s" in text
    for who in ("Client Person", "Unknown Visitor", "Demo Therapist"):
        assert who not in out  # the demo's lines and alerts never name anyone
    nothing_in_the_clear(tmp_path)  # nor its database: the Teams rosters' names are keyed digests there


async def test_the_teams_demo_raises_the_zoom_demos_camera_alerts_and_prompts(tmp_path, capsys, monkeypatch):
    """The same video-off alerts and note prompts as on Zoom, from the calling bot's video stream directions."""
    from integrations.teams.scripted.demo import TeamsDemo

    scripts: list[TeamsDemo] = []

    def keep(start, clock):
        scripts.append(TeamsDemo(start, clock))
        return scripts[-1]

    monkeypatch.setitem(demo.SCRIPTS, "teams", keep)
    monkeypatch.setattr(demo, "SECONDS_PER_STEP", 0.0)
    assert await demo.run_demo(out_dir=tmp_path, platform="teams") == 0
    out = capsys.readouterr().out
    _, text = answered_camera_prompts(out, tmp_path)
    assert text.count("The client's video has been off for 1 min.") == 2
    assert "Camera off: off for 2 min, until the camera came back on (camera). No note: unanswered." in text

    # What Graph saw: a subscription with the service's certificate, one call joined with the callback route, then left.
    (graph,) = [s.graph for s in scripts]
    (made,) = graph.subscriptions.values()
    base = made["notificationUrl"].removesuffix("/webhooks/teams")
    assert made["lifecycleNotificationUrl"] == f"{base}/webhooks/teams/lifecycle" and made["encryptionCertificate"]
    (call,) = graph.hung_up
    assert call.callback_uri == f"{base}/webhooks/teams/calls" and call.roster_reads == 1 and not graph.calls
    assert call.request["chatInfo"]["threadId"].startswith("19:meeting_")
