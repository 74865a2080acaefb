"""Benchmark: RTMS video frames ingested per second (JSON decode, base64 decode, enqueue) on one core."""
from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from bot.tracking.frames import Frame, FramePipeline  # noqa: E402
from integrations.zoom.rtms import Credentials, RtmsTiming, StreamAddress  # noqa: E402
from integrations.zoom.rtms import protocol as p  # noqa: E402
from integrations.zoom.rtms.connection import Listener, RtmsConnection  # noqa: E402
from integrations.zoom.scripted.rtms_server import RtmsScriptServer, demo_frame  # noqa: E402

FRAMES = 20_000
LOOPBACK_FRAMES = 5_000
USER = 16779264


def webcam_like_jpeg() -> bytes:
    """Return a 640x360 JPEG with camera-like texture (about a real SD frame's size), or the demo frame."""
    try:
        from PIL import Image
    except ImportError:
        return demo_frame()
    out = io.BytesIO()
    texture = Image.effect_noise((160, 90), 20).resize((640, 360), Image.Resampling.BICUBIC)
    Image.merge("RGB", (texture, texture.rotate(180), texture.transpose(Image.Transpose.FLIP_LEFT_RIGHT))).save(out, "JPEG", quality=75)
    return out.getvalue()


def message(jpeg: bytes, n: int) -> str:
    content = {"user_id": USER, "user_name": "Client", "data": base64.b64encode(jpeg).decode(), "timestamp": 1795168800000 + n * 200}
    return json.dumps({"msg_type": p.MEDIA_DATA_VIDEO, "content": content})


def ingest_rate(jpeg: bytes) -> float:
    """Return frames per second through exactly what the media reader does with a frame message."""
    texts = [message(jpeg, n) for n in range(200)]
    pipeline = FramePipeline()  # not started: enqueue only, like a reader whose sinks are busy
    start = time.perf_counter()
    for n in range(FRAMES):
        pipeline.put(p.video_frame(p.decode(texts[n % len(texts)]), "s1"))
    return FRAMES / (time.perf_counter() - start)


async def loopback_rate(jpeg: bytes) -> float:
    """Return frames per second from the scripted server to the real client over a loopback WebSocket."""
    server = RtmsScriptServer("bench", "bench-secret", keep_alive_seconds=10)
    await server.start()
    url = server.open_stream("bench==", "st-bench")
    stream = server.streams["st-bench"]
    pipeline = FramePipeline()
    done = asyncio.Event()
    received = 0

    def on_frame(frame: Frame) -> None:
        nonlocal received
        pipeline.put(frame)
        received += 1
        if received == LOOPBACK_FRAMES:
            done.set()

    listener = Listener(lambda: None, lambda updates: None, on_frame)
    async with aiohttp.ClientSession() as http:
        connection = RtmsConnection(http, Credentials("bench", "bench-secret"), StreamAddress("bench==", "st-bench", url), "s1", 5, RtmsTiming(), listener)
        task = asyncio.create_task(connection.run())
        await stream.wait_for(lambda s: s.ready)
        await connection.subscribe_video(USER)
        await stream.wait_for(lambda s: s.following == USER)
        start = time.perf_counter()
        for n in range(LOOPBACK_FRAMES):
            await stream.send_frame(jpeg, 1795168800000 + n * 200)
        await done.wait()
        elapsed = time.perf_counter() - start
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await server.stop()
    return LOOPBACK_FRAMES / elapsed


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    jpeg = webcam_like_jpeg()
    print(f"frame: 640x360 JPEG, {len(jpeg) / 1024:.1f} KiB ({len(message(jpeg, 0)) / 1024:.1f} KiB as an RTMS message)")
    rate = ingest_rate(jpeg)
    print(f"ingest (JSON + base64 decode + enqueue), one core: {rate:,.0f} frames/s")
    print(f"  = {rate / p.MAX_JPG_FPS:,.0f} streams at the 5 fps JPG maximum, {rate:,.0f} at the default 1 fps")
    print(f"over a loopback WebSocket, scripted server and real client sharing the core: {asyncio.run(loopback_rate(jpeg)):,.0f} frames/s")


if __name__ == "__main__":
    main()
