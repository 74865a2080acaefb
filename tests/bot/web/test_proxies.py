"""X-Forwarded-For and X-Forwarded-Proto are believed from `[server] trusted_proxies` only: the client's address, and https."""
from __future__ import annotations

import logging

import aiohttp
import pytest

from bot.web.serving import start

FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
HSTS = "Strict-Transport-Security"


async def served(settings, headers: dict[str, str], caplog: pytest.LogCaptureFixture) -> tuple[str, aiohttp.ClientResponse]:
    """Ask a real `companion serve` runner for /healthz with `headers`; return its access log line and the answer."""
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    runner = await start(settings, 0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{runner.addresses[0][1]}/healthz", headers=headers) as answer:
                assert answer.status == 200
    finally:
        await runner.cleanup()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    return line, answer


async def test_a_trusted_proxy_says_who_the_client_is_and_that_it_came_over_https(make_settings, caplog):
    line, answer = await served(make_settings(server={"trusted_proxies": ["127.0.0.1"]}), FORWARDED, caplog)
    assert line.startswith('203.0.113.9 "GET /healthz" 200 ')
    assert answer.headers[HSTS] == "max-age=31536000; includeSubDomains"  # request.secure: public_url is not https here


async def test_a_client_cannot_hide_behind_an_address_it_adds_in_front_of_the_proxys(make_settings, caplog):
    spoofed = {**FORWARDED, "X-Forwarded-For": "198.51.100.1, 203.0.113.9"}  # the proxy appended the address it saw
    line, _ = await served(make_settings(server={"trusted_proxies": ["127.0.0.0/8"]}), spoofed, caplog)
    assert line.startswith('203.0.113.9 "GET /healthz" 200 ')


@pytest.mark.parametrize("proxies", [[], ["10.0.0.0/8", "::1"]], ids=["none", "others"])
async def test_anyone_else_s_forwarded_headers_are_ignored(make_settings, caplog, proxies):
    line, answer = await served(make_settings(server={"trusted_proxies": proxies}), FORWARDED, caplog)
    assert line.startswith('127.0.0.1 "GET /healthz" 200 ')
    assert HSTS not in answer.headers
