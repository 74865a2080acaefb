"""Take connections while the service starts: answer `/healthz` and `/readyz` at once, hold every other request for the app.

Standard library only, so that it listens before the service's own imports and start have run.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from typing import Callable

_LOGGER = logging.getLogger(__name__)
PEEK_BYTES = 4096  # a request's head is read without taking it from the socket: a held request reaches the app whole
PEEK_WAIT_SECONDS = 0.01  # between looks at a request whose head has not all arrived
BACKLOG = 128


def _answer(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode("ascii") + body


# What aiohttp's routes answer once started, /readyz with its reason: the service cannot do its work yet.
ANSWERS = {
    "/healthz": _answer("200 OK", b'{"status": "ok"}'),
    "/readyz": _answer("503 Service Unavailable", b'{"status": "not_ready", "reasons": ["the service is starting"]}'),
}


async def _readable(conn: socket.socket) -> None:
    """Wait until the connection has bytes to read (or was closed)."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    loop.add_reader(conn.fileno(), _settle, ready)
    try:
        await ready
    finally:
        loop.remove_reader(conn.fileno())


def _settle(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


class StartingDoor:
    """The bound sockets' listener until the app has started: it answers the health checks and holds the rest."""

    def __init__(self, sockets: list[socket.socket], limit: int) -> None:
        self._sockets = sockets
        self._room = limit  # connections that may still be held or looked at, as the app's cap would allow
        self._full: list[socket.socket] = []  # listening sockets not read while there is no room
        self._open = False
        self._looking: dict[asyncio.Task[None], socket.socket] = {}
        self._answering: set[asyncio.Task[None]] = set()
        self._held: list[socket.socket] = []

    def open(self) -> None:
        """Listen on every socket and take its connections."""
        self._open = True
        for sock in self._sockets:
            sock.listen(BACKLOG)
            sock.setblocking(False)
            self._read(sock)

    def _read(self, sock: socket.socket) -> None:
        asyncio.get_running_loop().add_reader(sock.fileno(), self._take, sock)

    def _take(self, sock: socket.socket) -> None:
        """Accept what waits, each connection looked at from the same step: stopping loses none (no accept is ever cut off)."""
        loop = asyncio.get_running_loop()
        while self._room > 0:
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # out of files, a connection reset before it was taken: listen again shortly
                _LOGGER.warning("accepting a connection while starting failed (%s)", type(err).__name__)
                loop.remove_reader(sock.fileno())
                loop.call_later(0.1, self._resume, sock)
                return
            conn.setblocking(False)
            self._room -= 1
            task = asyncio.ensure_future(self._look(conn))
            self._looking[task] = conn
        loop.remove_reader(sock.fileno())  # no room: the rest wait in the backlog until some is freed
        self._full.append(sock)

    def _resume(self, sock: socket.socket) -> None:
        if self._open:
            self._read(sock)

    def _freed(self) -> None:
        self._room += 1
        if self._open:
            for sock in self._full:
                self._read(sock)
            self._full.clear()

    async def hand_over(self, protocol_factory: Callable[[], asyncio.Protocol]) -> None:
        """Stop taking connections (new ones wait in the backlog) and give the held ones, unread, to the app's server."""
        waiting = await self._stop()
        loop = asyncio.get_running_loop()
        for conn in waiting:
            try:
                await loop.connect_accepted_socket(protocol_factory, conn)
            except OSError:  # gone meanwhile
                conn.close()

    async def close(self) -> None:
        """Stop taking connections and close the held ones (the start failed)."""
        for conn in await self._stop():
            conn.close()

    async def _stop(self) -> list[socket.socket]:
        """Stop accepting and looking; return the connections still open, in the order they came."""
        if self._open:  # once only: the app's server may have taken (and closed) the sockets since
            self._open = False
            for sock in self._sockets:
                asyncio.get_running_loop().remove_reader(sock.fileno())
        looking = list(self._looking)
        for task in looking:
            task.cancel()
        await asyncio.gather(*looking, return_exceptions=True)
        if self._answering:  # a few bytes each: they finish at once
            await asyncio.wait(self._answering, timeout=1.0)
        waiting, self._held = self._held + list(self._looking.values()), []
        self._looking.clear()
        return waiting

    async def _look(self, conn: socket.socket) -> None:
        """Read the request's path without taking it; answer a health check, hold anything else."""
        path, head = await self._path(conn)
        del self._looking[asyncio.current_task()]  # type: ignore[arg-type]
        answer = ANSWERS.get(path) if path is not None else None
        if answer is None and path is not None:
            self._held.append(conn)
            return
        self._freed()
        if answer is None:  # closed before a request came
            conn.close()
            return
        task = asyncio.ensure_future(self._send(conn, head, answer))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _path(self, conn: socket.socket) -> tuple[str | None, int]:
        """Return the request's path (None: the peer closed or sent a head too large) and its head's length."""
        while True:
            await _readable(conn)
            try:
                seen = conn.recv(PEEK_BYTES, socket.MSG_PEEK)
            except BlockingIOError:
                continue
            except OSError:
                return None, 0
            if not seen:
                return None, 0
            end = seen.find(b"\r\n\r\n")
            if end >= 0 or len(seen) >= PEEK_BYTES:
                parts = seen.split(b"\r\n", 1)[0].split(b" ")
                path = parts[1].split(b"?", 1)[0].decode("latin-1") if len(parts) == 3 and parts[0] == b"GET" else ""
                return path, end + 4 if end >= 0 else 0
            await asyncio.sleep(PEEK_WAIT_SECONDS)  # the rest of the head is on its way

    async def _send(self, conn: socket.socket, head: int, answer: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            if head:
                conn.recv(head)  # taken, so that closing does not reset the connection under the answer
            await loop.sock_sendall(conn, answer)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            conn.close()
