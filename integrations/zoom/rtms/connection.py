"""One RTMS connection: the signed signaling and video sockets, keep-alives, events and frames."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

import aiohttp

from bot.tracking.frames import Frame

from . import protocol as p
from .lifecycle import RtmsTiming

_LOGGER = logging.getLogger(__name__)


class RtmsRefused(Exception):
    """The RTMS server refused a handshake: retrying with the same credentials will not help."""


class StreamLost(Exception):
    """A socket closed, failed or fell silent: reconnecting may help."""


@dataclass(frozen=True)
class Credentials:
    """The RTMS app whose secret signs the handshakes."""

    client_id: str
    client_secret: str


@dataclass(frozen=True)
class StreamAddress:
    """Where and which stream to open, from `meeting.rtms_started`."""

    meeting_uuid: str
    stream_id: str
    server_url: str


@dataclass(frozen=True)
class Listener:
    """What the connection reports; every callback returns at once (work is queued elsewhere)."""

    ready: Callable[[], None]
    participants: Callable[[list[p.ParticipantUpdate]], None]
    frame: Callable[[Frame], None]


Handler = Callable[[aiohttp.ClientWebSocketResponse, Mapping[str, Any]], Awaitable[bool]]


class RtmsConnection:
    """Open a stream's two sockets, hold them until they close, and report what arrives."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        credentials: Credentials,
        address: StreamAddress,
        session_id: str,
        fps: int,
        timing: RtmsTiming,
        listener: Listener,
        sequence: int = 0,
    ) -> None:
        self._http = http
        self._address = address
        self._signature = p.sign(credentials.client_id, credentials.client_secret, address.meeting_uuid, address.stream_id)
        self._session_id = session_id
        self._fps = fps
        self._timing = timing
        self._listener = listener
        self._sequence = sequence
        self._signaling: aiohttp.ClientWebSocketResponse | None = None
        self.ready = False
        self.was_ready = False

    async def run(self) -> None:
        """Connect and serve the stream; return when Zoom closes it, raise RtmsRefused or StreamLost otherwise."""
        address = self._address
        try:
            async with asyncio.timeout(self._timing.connect_seconds):
                signaling = await self._http.ws_connect(address.server_url, autoping=True)
            async with signaling:
                self._signaling = signaling
                async with asyncio.timeout(self._timing.connect_seconds):
                    await signaling.send_json(p.signaling_handshake(address.meeting_uuid, address.stream_id, self._signature, self._sequence))
                    reply = await self._expect(signaling, "signaling", p.SIGNALING_HANDSHAKE_RESP)
                    media = await self._http.ws_connect(p.media_url(reply), autoping=True)
                async with media:
                    async with asyncio.timeout(self._timing.connect_seconds):
                        await media.send_json(p.media_handshake(address.meeting_uuid, address.stream_id, self._signature, self._fps))
                        await self._expect(media, "media", p.MEDIA_HANDSHAKE_RESP)
                    await signaling.send_json(p.client_ready(address.stream_id))
                    await signaling.send_json(p.subscribe_events())
                    self.ready = self.was_ready = True
                    self._listener.ready()
                    await _first_to_finish(
                        self._read(signaling, "signaling", self._on_signaling), self._read(media, "media", self._on_media)
                    )
        except TimeoutError:
            raise StreamLost("the RTMS server did not complete the handshake in time") from None
        except p.RtmsMessageError as err:
            raise StreamLost(f"the RTMS server sent a bad handshake answer: {err}") from None
        except (aiohttp.ClientError, OSError) as err:
            raise StreamLost(f"cannot reach the RTMS server ({err.__class__.__name__})") from None
        finally:
            self._signaling = None
            self.ready = False

    async def subscribe_video(self, user_id: int | str) -> bool:
        """Ask for this participant's video; return False if the stream is not ready."""
        signaling = self._signaling
        if not self.ready or signaling is None or signaling.closed:
            return False
        await signaling.send_json(p.subscribe_video(user_id))
        return True

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse, name: str) -> dict[str, Any] | None:
        """Return the next message (keep-alives answered here), None for one to skip."""
        try:
            msg = await ws.receive(timeout=self._timing.silence_seconds)
        except TimeoutError:
            raise StreamLost(f"the {name} socket was silent for {self._timing.silence_seconds:g} s (keep-alives stopped)") from None
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            raise StreamLost(f"the {name} socket closed")
        if msg.type != aiohttp.WSMsgType.TEXT:
            return None
        try:
            message = p.decode(msg.data)
        except p.RtmsMessageError as err:
            _LOGGER.warning("RTMS stream %s: skipped a %s message: %s", self._address.stream_id, name, err)
            return None
        if message["msg_type"] == p.KEEP_ALIVE_REQ:
            await ws.send_json(p.keep_alive_answer(message))  # always on the socket it came on
            return None
        return message

    async def _expect(self, ws: aiohttp.ClientWebSocketResponse, name: str, msg_type: int) -> dict[str, Any]:
        while True:
            message = await self._receive(ws, name)
            if message is None or message["msg_type"] != msg_type:
                continue
            status = message.get("status_code", 0)
            if status != 0:
                reason = str(message.get("reason") or "")[:120]
                raise RtmsRefused(
                    f"RTMS refused the {name} handshake (status_code {status}{': ' + reason if reason else ''}); "
                    "check [zoom] rtms_client_id and rtms_client_secret"
                )
            return message

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, name: str, handle: Handler) -> None:
        while True:
            message = await self._receive(ws, name)
            if message is not None and await handle(ws, message):
                return

    async def _on_signaling(self, ws: aiohttp.ClientWebSocketResponse, message: Mapping[str, Any]) -> bool:
        kind = message["msg_type"]
        if kind == p.EVENT_UPDATE:
            try:
                self._listener.participants(p.participant_updates(message))
            except p.RtmsMessageError as err:
                _LOGGER.warning("RTMS stream %s: skipped an event: %s", self._address.stream_id, err)
        elif kind == p.VIDEO_SUBSCRIPTION_RESP and message.get("status_code", 0) != 0:
            _LOGGER.warning("RTMS stream %s: video subscription refused (status_code %s)", self._address.stream_id, message.get("status_code"))
        elif kind in (p.STREAM_STATE_UPDATE, p.SESSION_STATE_UPDATE):
            _LOGGER.info("RTMS stream %s: state %s (reason %s)", self._address.stream_id, message.get("state"), message.get("reason"))
        elif kind == p.STREAM_CLOSE_REQ:
            await ws.send_json(p.stream_close_answer(self._address.stream_id))
            return True
        return False

    async def _on_media(self, ws: aiohttp.ClientWebSocketResponse, message: Mapping[str, Any]) -> bool:
        if message["msg_type"] == p.MEDIA_DATA_VIDEO:
            try:
                self._listener.frame(p.video_frame(message, self._session_id))
            except p.RtmsMessageError as err:
                _LOGGER.debug("RTMS stream %s: skipped a frame: %s", self._address.stream_id, err)
        return False


async def _first_to_finish(*coros: Awaitable[None]) -> None:
    """Run the readers together; when one ends or fails, stop the others and pass its outcome on."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()
