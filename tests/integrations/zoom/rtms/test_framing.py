"""Framing end to end: the client's frames over the fake RTMS server, the real models in a worker, stored changes (bot/framing/sink.py)."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.core.events import FramingChanged
from bot.web import keys
from tests.bot.framing import photos as P
from tests.fakes.rtms_server import RTMS_CLIENT_ID, RTMS_SECRET, eventually
from tests.integrations.zoom.rtms.test_streams import (
    AUTH,
    SESSION,
    START,
    deliver,
    following_the_client,
    ms,
    scripted_meeting,
    start_app,
)


async def stored_framing(client) -> list[FramingChanged]:
    store = client.app[keys.STORE]
    events = await store.session_events((await store.session(SESSION)).meeting)
    return [e for e in events if isinstance(e, FramingChanged)]


async def test_a_client_who_lies_down_gives_one_change_one_prompt_and_the_note_stands_against_it(aiohttp_client, make_settings, rtms_server):
    settings = make_settings(
        zoom={"rtms_client_id": RTMS_CLIENT_ID, "rtms_client_secret": RTMS_SECRET, "rtms_fps": 1},
        framing={"enabled": True, "debounce_seconds": 5},
    )
    client = await start_app(aiohttp_client, settings)
    meeting = scripted_meeting(rtms_server)
    await deliver(client, meeting)
    stream = await following_the_client(rtms_server)
    sink = client.app[keys.SERVICES].framing
    assert sink is not None
    upright = [P.jpeg(P.noisy(P.grace_hopper(), seed, 5.0)) for seed in range(3)]
    turned = [P.jpeg(P.noisy(P.turned(P.grace_hopper_photo()), seed, 5.0)) for seed in range(3)]

    second = 100
    # The first frame starts the worker, which loads the models; frames until then are dropped and counted.
    while sink.analyzer.analysed == 0:
        assert await stream.send_frame(upright[second % 3], ms(second))
        second += 1
        await asyncio.sleep(0.25)
    assert sink.analyzer.dropped >= 1
    start_turned = second + 6
    for frame_at in range(second, start_turned + 9):  # upright for 6 s, then turned for 9 s
        pictures = upright if frame_at < start_turned else turned
        done = sink.analyzer.analysed
        assert await stream.send_frame(pictures[frame_at % 3], ms(frame_at))
        await eventually(lambda done=done: sink.analyzer.analysed > done, timeout=10)
    await sink.drain()
    await client.app[keys.EVALUATION].drain()

    stored = await stored_framing(client)
    assert [(e.change, e.source, e.at) for e in stored] == [("lying_down", "analysis", START + timedelta(seconds=start_turned))]
    assert "shoulder line" in stored[0].detail
    await deliver(client, meeting, again=True)  # a redelivery, and the frames' detector state kept: nothing twice
    assert len(await stored_framing(client)) == 1

    # One prompt about it reaches the therapist; their note answering it stands against the change.
    prompts = await client.app[keys.STORE].notices("t1", SESSION, kind="note_prompt")
    assert [p.message.split(" (")[0] for p in prompts] == ["The client seems to be lying down"]
    note = {"text": "Moved to the sofa; asked to sit up.", "prompt_id": prompts[0].id}
    answered = await client.post(f"/api/sessions/{SESSION}/notes", json=note, headers=AUTH)
    assert answered.status == 201, await answered.text()
    summary = await (await client.get(f"/api/sessions/{SESSION}/summary", headers=AUTH)).json()
    (change,) = [c for c in summary["framing_changes"] if c["source"] == "analysis"]
    assert (change["kind"], change["prompt_id"], change["note"]) == ("lying_down", str(prompts[0].id), "Moved to the sofa; asked to sit up.")
    markdown = await (await client.get(f"/api/sessions/{SESSION}/summary?format=md", headers=AUTH)).text()
    assert "Moved to the sofa; asked to sit up." in markdown

