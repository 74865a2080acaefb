"""`companion demo`: the scripted meeting runs through the real service on loopback to its summary."""
from __future__ import annotations

from bot import demo


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
