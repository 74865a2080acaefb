"""deploy/nginx/companion.conf: it bounds and passes on what the service expects, nginx -t takes it, and it serves (where nginx is)."""
from __future__ import annotations

import asyncio
import re
import shutil
import ssl
import subprocess
import tomllib
from pathlib import Path

import aiohttp
import pytest

from bot.config.starter import write_starter
from bot.web.app import MAX_REQUEST_BYTES
from bot.web.stream import HEARTBEAT_SECONDS, STREAM_PATH
from tests.conftest import free_port
from tests.deploy.deployment import TWO_INSTANCES, block, directives, site
from tests.fakes.tls import loopback_certificate

NGINX = shutil.which("nginx")
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed here (Debian: apt-get install nginx): deploy/nginx/companion.conf is not parsed")
SIZES = {"k": 1024, "m": 1024 * 1024}
SECONDS = {"s": 1, "m": 60, "h": 3600}
START_SECONDS = 30.0  # a deadline for nginx to answer, not a wait


def amount(text: str, units: dict[str, int]) -> int:
    """Return an nginx size or time (`1m`, `1h`, `30`) in bytes or seconds."""
    number, unit = re.fullmatch(r"(\d+)([a-z]?)", text).groups()
    return int(number) * units.get(unit, 1)


def test_the_site_proxies_to_where_init_puts_the_service_and_bounds_bodies_as_it_does(tmp_path):
    write_starter(tmp_path / "companion.toml")
    server = tomllib.loads((tmp_path / "companion.toml").read_text(encoding="utf-8"))["server"]
    text = site()
    assert directives(block(text, "upstream companion"), "server") == [f"{server['host']}:{server['port']}"]
    assert set(directives(text, "proxy_pass")) == {"http://companion"}
    (limit,) = directives(text, "client_max_body_size")
    assert amount(limit, SIZES) == MAX_REQUEST_BYTES


def test_the_notice_stream_is_passed_on_unbuffered_and_outlives_many_heartbeats():
    stream = block(site(), f"location = {STREAM_PATH}")
    assert directives(stream, "proxy_buffering") == ["off"] and directives(stream, "proxy_cache") == ["off"]
    (read,) = directives(stream, "proxy_read_timeout")
    assert amount(read, SECONDS) >= 100 * HEARTBEAT_SECONDS


def test_the_site_sets_the_forwarded_headers_over_what_a_client_sent_and_logs_no_query_string():
    text = site()
    assert {"X-Forwarded-For $remote_addr", "X-Forwarded-Proto $scheme"} <= set(directives(text, "proxy_set_header"))
    (log_format,) = directives(text, "log_format")
    name = log_format.split()[0]
    assert not re.search(r"\$(request|request_uri|args|arg_\w+|query_string|is_args|http_referer|http_user_agent|http_authorization|http_cookie)\b", log_format)
    assert "$uri" in log_format
    logs = directives(text, "access_log")
    assert len(logs) == text.count("server_name") == 2 and all(log.endswith(f" {name}") for log in logs)


def local_copy(directory: Path, service_port: int, http_port: int, https_port: int, text: str = "") -> Path:
    """Write the site (or `text`, another site) as it would run here: loopback ports, a throwaway certificate, logs and
    temporary files in `directory`."""
    loopback_certificate(directory)
    text, swaps = text or site(), {
        "server 127.0.0.1:8080": f"server 127.0.0.1:{service_port}",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:80;": "",
        "listen [::]:443 ssl http2;": "",
        "/etc/letsencrypt/live/companion.example.org/fullchain.pem": str(directory / "loopback.pem"),
        "/etc/letsencrypt/live/companion.example.org/privkey.pem": str(directory / "loopback.key"),
        "/var/log/nginx/": f"{directory}/",
    }
    for old, new in swaps.items():
        assert old in text, f"the site no longer says {old!r}: bring this test up to date"
        text = text.replace(old, new)
    (directory / "companion.conf").write_text(text, encoding="utf-8")
    temporary = " ".join(f"{kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    config = directory / "nginx.conf"
    config.write_text(
        f"pid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'};\nevents {{}}\n"
        f"http {{\n{temporary}\ninclude {directory / 'companion.conf'};\n}}\n",
        encoding="utf-8",
    )
    return config


@needs_nginx
def test_nginx_takes_the_site(tmp_path):
    config = local_copy(tmp_path, 8080, free_port(), free_port())
    found = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True, timeout=60)
    assert found.returncode == 0 and "test is successful" in found.stderr, found.stderr


async def answer(http: aiohttp.ClientSession, method: str, url: str, **kwargs) -> aiohttp.ClientResponse:
    """Ask until nginx answers (bounded: it starts in its own time)."""
    deadline = asyncio.get_running_loop().time() + START_SECONDS
    while True:
        try:
            async with http.request(method, url, allow_redirects=False, **kwargs) as response:
                await response.read()
                return response
        except aiohttp.ClientConnectionError:
            assert asyncio.get_running_loop().time() < deadline, f"nginx never answered {url}"
            await asyncio.sleep(0.1)


@needs_nginx
async def test_through_the_site_the_service_answers_over_tls_a_large_body_stops_at_nginx_and_the_log_keeps_no_query(tmp_path, service):
    http_port, https_port = free_port(), free_port()
    config = local_copy(tmp_path, service.port, http_port, https_port)
    nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    trusted = ssl.create_default_context(cafile=str(tmp_path / "loopback.pem"))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusted)) as http:
            health = await answer(http, "GET", f"https://127.0.0.1:{https_port}/healthz?probe=query-kept-out-of-the-log")
            assert (health.status, health.headers["Server"]) == (200, "session-companion")
            plain = await answer(http, "GET", f"http://127.0.0.1:{http_port}/healthz")
            assert plain.status == 301 and plain.headers["Location"] == "https://127.0.0.1/healthz"
            large = await answer(http, "POST", f"https://127.0.0.1:{https_port}/webhooks/zoom", data=b"{" + b" " * MAX_REQUEST_BYTES + b"}")
            assert large.status == 413 and large.headers["Server"] == "nginx"  # refused by nginx, before the service
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
    logged = (tmp_path / "companion.access.log").read_text(encoding="utf-8")
    assert '"GET /healthz HTTP/1.1" 200' in logged and "probe" not in logged and "query-kept" not in logged


def _bare(text: str, cut: tuple[str, ...]) -> list[str]:
    """Return the site's lines without comments, blank lines and the blocks `cut` opens (e.g. `upstream companion`)."""
    for opening in cut:
        start = text.index(opening + " {")
        text = text[:start] + text[text.index("}", start) + 1:]
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_two_instance_site_is_the_site_with_both_instances_upstream_and_webhooks_passed_on_when_one_fails():
    one, two = site(), site(TWO_INSTANCES)
    servers = directives(block(two, "upstream companion"), "server")
    assert len(servers) == 2 and len({s.split()[0] for s in servers}) == 2
    assert all("max_fails=1" in s and "fail_timeout=10s" in s for s in servers)
    webhooks = block(two, "location /webhooks/")
    (retry,) = directives(webhooks, "proxy_next_upstream")
    assert {"error", "timeout", "non_idempotent"} <= set(retry.split())  # a stored delivery sent twice changes nothing
    assert directives(webhooks, "proxy_next_upstream_tries") == ["2"]
    # Everything else is the one-instance site's, line for line: the two cannot drift apart.
    assert _bare(two, ("upstream companion", "location /webhooks/")) == _bare(one, ("upstream companion",))
    assert "proxy_next_upstream" not in one  # one instance: nothing to pass on to


@needs_nginx
def test_nginx_takes_the_two_instance_site(tmp_path):
    text = site(TWO_INSTANCES).replace("10.0.0.11:8080", "127.0.0.1:8080").replace("10.0.0.12:8080", "127.0.0.1:8081")
    config = local_copy(tmp_path, 8080, free_port(), free_port(), text)
    found = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True, timeout=60)
    assert found.returncode == 0 and "test is successful" in found.stderr, found.stderr
