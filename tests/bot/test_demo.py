"""`companion demo`: the scripted meeting runs through the real service on loopback to its summary."""
from __future__ import annotations

import re

from bot import demo
from integrations.zoom.scripted.demo_photos import demo_person_frames


async def test_the_demo_replays_a_meeting_prints_alerts_and_writes_the_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(demo, "SECONDS_PER_STEP", 0.0)
    assert await demo.run_demo(out_dir=tmp_path) == 0
    out = capsys.readouterr().out
    assert "ALERT" in out and "recording_started" in out and "third_party_joined" in out
    md, html = sorted(tmp_path.glob("summary-*.md")), sorted(tmp_path.glob("summary-*.html"))
    assert len(md) == 1 and len(html) == 1
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
