"""`companion demo`: the scripted meeting runs through the real service on loopback to its summary."""
from __future__ import annotations

import re
import stat

from bot import demo
from integrations.zoom.scripted.demo_photos import demo_person_frames


async def test_the_demo_replays_a_meeting_prints_alerts_and_writes_the_summary(tmp_path, capsys, monkeypatch):
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
    prompts = [line for line in out.splitlines() if line.lstrip().startswith("PROMPT")]
    assert sum("What were they doing?" in line for line in prompts) == 2  # one prompt per camera-off interval
    assert "therapist answered prompt #" in out and demo.DEMO_NOTE in out
    (summary,) = tmp_path.glob("summary-*.md")
    text = summary.read_text(encoding="utf-8")
    assert f"Camera off: off for 3 min, until the camera came back on (camera). Note: {demo.DEMO_NOTE}" in text
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
