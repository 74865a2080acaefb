"""The server's logs: paths without queries, malformed requests never quoted, accept failures said once a minute."""
from __future__ import annotations

import asyncio
import errno
import logging
import socket

import aiohttp
import pytest

from bot.web.logs import Hush, RequestErrors, quiet_server_logs
from bot.web.serving import start
from tests.conftest import TOKEN_A, TOKEN_B


@pytest.fixture
def fresh_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put new filters on the server's loggers for this test alone."""
    for name in ("aiohttp.server", "aiohttp.web", "aiohttp.internal", "asyncio"):
        monkeypatch.setattr(logging.getLogger(name), "filters", [])
    quiet_server_logs()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_hush_lets_the_first_through_then_one_a_minute_with_the_count_held_back():
    clock = Clock()
    hush = Hush(60.0, clock)
    assert hush.admit() == 0
    assert [hush.admit() for _ in range(5)] == [None] * 5
    clock.now += 59.9
    assert hush.admit() is None
    clock.now += 0.1
    assert hush.admit() == 6
    clock.now += 61
    assert hush.admit() == 0


async def raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    try:
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


async def test_the_access_log_shows_paths_only_and_bad_requests_are_never_quoted(settings, caplog, fresh_filters):
    caplog.set_level(logging.DEBUG)
    runner = await start(settings, 0)
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}"
            async with http.get(f"{url}/api/notices", params={"access_token": TOKEN_A, "kind": "x"}, headers={"Referer": f"{url}/?access_token={TOKEN_A}"}) as answer:
                assert answer.status == 401  # a token is never taken from the URL
            async with http.get(f"{url}/api/notices/stream", params={"access_token": TOKEN_A}) as answer:
                assert answer.status == 401
            async with http.post(f"{url}/api/stream-tickets", headers={"Authorization": f"Bearer {TOKEN_A}"}) as answer:
                ticket = (await answer.json())["ticket"]
            async with http.get(f"{url}/api/notices/stream", params={"ticket": ticket}) as answer:
                assert answer.status == 200
            async with http.get(f"{url}/api/notices%0Aforged?x=1", headers={"Authorization": f"Bearer {TOKEN_B}"}) as answer:
                assert answer.status == 404
        bad = [
            f"GET /api/notices/stream?access_token={TOKEN_A} HTTP/9.9\r\nHost: x\r\n\r\n",
            f"GET /api/notices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN_B}\x01\r\n\r\n",
            f"GET /x?access_token={TOKEN_A}\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        ]
        answers = [await raw(port, request.encode()) for request in bad]
    finally:
        await runner.cleanup()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.0 400 ") and b"Server: session-companion\r\n" in answer
        assert TOKEN_A.encode() not in answer and TOKEN_B.encode() not in answer
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert TOKEN_A not in text and TOKEN_B not in text and ticket not in text
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any('"GET /api/notices" 401' in line for line in access)
    assert any('"GET /api/notices%0Aforged" 404' in line for line in access)
    assert not [line for line in access if "?" in line or "\n" in line]
    malformed = [r for r in caplog.records if r.name == "aiohttp.server" and "malformed HTTP" in r.getMessage()]
    assert len(malformed) == 1 and malformed[0].exc_info is None and malformed[0].exc_text is None


def test_an_exception_logged_by_the_server_keeps_its_frames_and_withholds_its_message(caplog):
    logger = logging.getLogger("tests.request_errors")
    logger.addFilter(RequestErrors())
    note = "the client said ..."
    try:
        raise ValueError(f"INSERT INTO notes VALUES ({note!r}, {TOKEN_A!r})")  # as a driver's error quotes parameters
    except ValueError:
        logger.exception("Error handling request from %s for /x?access_token=%s", "127.0.0.1", TOKEN_A)
    (record,) = caplog.records
    assert TOKEN_A not in record.getMessage() and "the client said" not in (record.exc_text or "")
    assert "access_token=" not in record.getMessage()
    assert "test_an_exception_logged_by_the_server" in record.exc_text and "ValueError (message withheld)" in record.exc_text


async def test_accept_failures_are_logged_once_a_minute_not_every_second(caplog, fresh_filters):
    caplog.set_level(logging.INFO)
    loop = asyncio.get_running_loop()
    with socket.socket() as listening:
        for _ in range(30):  # what asyncio's accept loop reports each second while the process is out of files
            loop.call_exception_handler({
                "message": "socket.accept() out of system resource",
                "exception": OSError(errno.EMFILE, "Too many open files"),
                "socket": listening,
            })
    said = [r for r in caplog.records if r.name == "asyncio"]
    assert len(said) == 1
    assert "Too many open files" in said[0].getMessage() and said[0].exc_info is None
