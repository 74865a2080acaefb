"""A scripted RTMS server on loopback that checks the client like Zoom's would; the demo and the tests run it."""
from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from integrations.zoom.rtms import protocol as p

_LOGGER = logging.getLogger(__name__)
# Status codes this server answers with (it needs only two): a refused signature, a malformed request.
STATUS_INVALID_SIGNATURE = 11
STATUS_BAD_REQUEST = 3


def demo_frame() -> bytes:
    """Return the shipped 640x360 JPEG the scripted server sends as the client's video."""
    return resources.files("integrations.zoom.scripted").joinpath("demo_frame.jpg").read_bytes()


class _Socket:
    """One accepted WebSocket and its unanswered keep-alives."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, kind: str) -> None:
        self.ws = ws
        self.request = request
        self.kind = kind
        self.unanswered = 0


@dataclass
class ScriptedStream:
    """One RTMS stream as the server sees it: who connected, what they asked for, and who is on camera."""

    meeting_uuid: str
    stream_id: str
    handshakes: int = 0
    media_params: dict[str, Any] = field(default_factory=dict)
    events: set[int] = field(default_factory=set)
    client_ready: bool = False
    following: int | str | None = None
    names: dict[str, str] = field(default_factory=dict)
    cameras: dict[str, bool] = field(default_factory=dict)
    answered: dict[str, int] = field(default_factory=lambda: {"signaling": 0, "media": 0})  # keep-alive echoes
    signaling: _Socket | None = None
    media: _Socket | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def ready(self) -> bool:
        """Return whether a client completed both handshakes, said it is ready and subscribed to events."""
        return self.client_ready and self.media is not None and bool(self.events)

    async def wait_for(self, check: Any, timeout: float = 5.0) -> None:
        """Wait until `check(stream)` is true (raise TimeoutError after `timeout` seconds)."""
        async with asyncio.timeout(timeout):
            async with self.changed:
                await self.changed.wait_for(lambda: check(self))

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def send_event(self, event_type: int, at_ms: int, user_id: int | str, name: str) -> bool:
        """Send one participant event if the client subscribed to its type; return whether it was sent."""
        key = str(user_id)
        self.names[key] = name
        if event_type in (p.PARTICIPANT_VIDEO_ON, p.PARTICIPANT_VIDEO_OFF):
            self.cameras[key] = event_type == p.PARTICIPANT_VIDEO_ON
        if self.signaling is None or event_type not in self.events:
            return False
        participants = [{"user_id": user_id, "user_name": name}]
        message = {"msg_type": p.EVENT_UPDATE, "event": {"event_type": event_type, "timestamp": at_ms, "participants": participants}}
        await self.signaling.ws.send_json(message)
        return True

    def turn_camera(self, user_id: int | str, on: bool) -> None:
        """Turn a participant's camera on or off with no event reaching the client (one lost in a reconnect gap)."""
        self.cameras[str(user_id)] = on

    async def send_frame(self, jpeg: bytes, at_ms: int, user_id: int | str | None = None) -> bool:
        """Send a frame of the followed participant (or `user_id`'s, in flight) if their camera is on; return whether sent."""
        sender = self.following if user_id is None else user_id
        key = str(sender)
        if self.media is None or not self.client_ready or self.following is None or not self.cameras.get(key, True):
            return False
        content = {"user_id": sender, "user_name": self.names.get(key, ""), "data": base64.b64encode(jpeg).decode(), "timestamp": at_ms}
        await self.media.ws.send_json({"msg_type": p.MEDIA_DATA_VIDEO, "content": content})
        return True

    async def request_close(self) -> None:
        """Ask the client to close the stream (STREAM_CLOSE_REQ), as Zoom does when a stream ends."""
        if self.signaling is not None:
            await self.signaling.ws.send_json({"msg_type": p.STREAM_CLOSE_REQ, "rtms_stream_id": self.stream_id})

    async def drop(self) -> None:
        """Cut both sockets without a closing handshake, as a network failure would."""
        for sock in (self.signaling, self.media):
            if sock is not None and sock.request.transport is not None:
                sock.request.transport.abort()


class RtmsScriptServer:
    """Signaling and media WebSockets with Zoom's checks: signatures, message order, keep-alives."""

    def __init__(self, client_id: str, client_secret: str, keep_alive_seconds: float = 10.0, missed_limit: int = 3) -> None:
        self._credentials = (client_id, client_secret)
        self.keep_alive_seconds = keep_alive_seconds
        self.missed_limit = missed_limit
        self.streams: dict[str, ScriptedStream] = {}
        self.problems: list[str] = []  # order or format violations by a client: a correct client leaves none
        self.refused = 0
        self.silence_drops = 0
        self._app = web.Application()
        self._app.router.add_get("/signaling/{stream_id}", self._signaling)
        self._app.router.add_get("/media/{stream_id}", self._media)
        self._runner = web.AppRunner(self._app, access_log=None)
        self._open: set[_Socket] = set()
        self.base = ""

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"ws://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Close every open socket, then stop listening."""
        await asyncio.gather(*(sock.ws.close() for sock in list(self._open)), return_exceptions=True)
        await self._runner.cleanup()

    def open_stream(self, meeting_uuid: str, stream_id: str) -> str:
        """Register a stream and return its signaling URL (what `meeting.rtms_started` carries)."""
        self.streams[stream_id] = ScriptedStream(meeting_uuid, stream_id)
        return f"{self.base}/signaling/{stream_id}"

    def _signed(self, stream: ScriptedStream, message: dict[str, Any]) -> bool:
        expected = p.sign(*self._credentials, stream.meeting_uuid, stream.stream_id)
        given = message.get("signature")
        return (
            message.get("meeting_uuid") == stream.meeting_uuid
            and message.get("rtms_stream_id") == stream.stream_id
            and isinstance(given, str)
            and hmac.compare_digest(given.encode(), expected.encode())
        )

    async def _accept(self, request: web.Request, expected: int) -> tuple[_Socket, ScriptedStream, dict[str, Any]] | None:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=8 * 1024 * 1024)
        await ws.prepare(request)
        stream = self.streams.get(request.match_info["stream_id"])
        try:
            msg = await ws.receive(timeout=10)
            message = p.decode(msg.data) if msg.type == WSMsgType.TEXT else {"msg_type": -1}
        except (TimeoutError, p.RtmsMessageError):
            message = {"msg_type": -1}
        answer = expected + 1
        if stream is None or message["msg_type"] != expected:
            self.problems.append(f"first message was msg_type {message['msg_type']}, not {expected}")
            await ws.send_json({"msg_type": answer, "status_code": STATUS_BAD_REQUEST, "reason": "handshake expected"})
        elif not self._signed(stream, message):
            self.refused += 1
            await ws.send_json({"msg_type": answer, "status_code": STATUS_INVALID_SIGNATURE, "reason": "invalid signature"})
        else:
            return _Socket(ws, request, "signaling" if expected == p.SIGNALING_HANDSHAKE_REQ else "media"), stream, message
        await ws.close()
        return None

    async def _signaling(self, request: web.Request) -> web.WebSocketResponse:
        accepted = await self._accept(request, p.SIGNALING_HANDSHAKE_REQ)
        if accepted is None:
            return web.WebSocketResponse()
        sock, stream, _ = accepted
        stream.handshakes += 1
        stream.signaling, stream.media, stream.client_ready, stream.events, stream.following = sock, None, False, set(), None
        media = f"{self.base}/media/{stream.stream_id}"
        await sock.ws.send_json({"msg_type": p.SIGNALING_HANDSHAKE_RESP, "status_code": 0, "media_server": {"server_urls": {"video": media, "all": media}}})
        await stream._notify()
        await self._serve(sock, stream, self._on_signaling)
        return sock.ws

    async def _media(self, request: web.Request) -> web.WebSocketResponse:
        accepted = await self._accept(request, p.MEDIA_HANDSHAKE_REQ)
        if accepted is None:
            return web.WebSocketResponse()
        sock, stream, message = accepted
        video = (message.get("media_params") or {}).get("video") or {}
        fps_ok = isinstance(video.get("fps"), int) and 1 <= video["fps"] <= (p.MAX_JPG_FPS if video.get("codec") in (5, 6) else 30)
        if stream.signaling is None or message.get("media_type") != p.MEDIA_TYPE_VIDEO or video.get("codec") not in (5, 6, 7) or not fps_ok:
            self.problems.append("media handshake before signaling, or with bad video parameters")
            await sock.ws.send_json({"msg_type": p.MEDIA_HANDSHAKE_RESP, "status_code": STATUS_BAD_REQUEST, "reason": "bad media request"})
            await sock.ws.close()
            return sock.ws
        stream.media, stream.media_params = sock, video
        await sock.ws.send_json({"msg_type": p.MEDIA_HANDSHAKE_RESP, "status_code": 0})
        await stream._notify()
        await self._serve(sock, stream, self._on_media)
        return sock.ws

    async def _serve(self, sock: _Socket, stream: ScriptedStream, handle: Any) -> None:
        keep_alive = asyncio.create_task(self._keep_alive(sock))
        self._open.add(sock)
        try:
            async for msg in sock.ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    message = p.decode(msg.data)
                except p.RtmsMessageError as err:
                    self.problems.append(str(err))
                    continue
                if message["msg_type"] == p.KEEP_ALIVE_RESP:
                    sock.unanswered = 0
                    stream.answered[sock.kind] += 1
                else:
                    await handle(sock, stream, message)
                await stream._notify()
        finally:
            keep_alive.cancel()
            self._open.discard(sock)
            if stream.signaling is sock:
                stream.signaling, stream.client_ready = None, False
            if stream.media is sock:
                stream.media, stream.client_ready = None, False
            await stream._notify()

    async def _on_signaling(self, sock: _Socket, stream: ScriptedStream, message: dict[str, Any]) -> None:
        kind = message["msg_type"]
        if kind == p.CLIENT_READY_ACK and stream.media is not None and message.get("rtms_stream_id") == stream.stream_id:
            stream.client_ready = True
        elif kind == p.EVENT_SUBSCRIPTION and stream.media is not None:
            stream.events |= {e["event_type"] for e in message.get("events", []) if e.get("subscribe")}
        elif kind == p.VIDEO_SUBSCRIPTION_REQ and stream.client_ready and stream.media_params.get("data_opt") == p.DATA_OPT_INDIVIDUAL:
            stream.following = message.get("user_id")
            await sock.ws.send_json({"msg_type": p.VIDEO_SUBSCRIPTION_RESP, "status_code": 0, "user_id": stream.following})
        elif kind == p.STREAM_CLOSE_RESP:
            await sock.ws.close()
        else:
            self.problems.append(f"signaling msg_type {kind} out of order or malformed")

    async def _on_media(self, sock: _Socket, stream: ScriptedStream, message: dict[str, Any]) -> None:
        self.problems.append(f"media msg_type {message['msg_type']} is not for the client to send")

    async def _keep_alive(self, sock: _Socket) -> None:
        while not sock.ws.closed:
            await asyncio.sleep(self.keep_alive_seconds)
            if sock.unanswered >= self.missed_limit:
                self.silence_drops += 1
                _LOGGER.info("RTMS script server: dropping a client that missed %d keep-alives", sock.unanswered)
                await sock.ws.close()
                return
            sock.unanswered += 1
            await sock.ws.send_json({"msg_type": p.KEEP_ALIVE_REQ, "timestamp": int(time.time() * 1000)})
