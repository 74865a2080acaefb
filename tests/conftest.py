"""Shared test fixtures: settings, signed Zoom deliveries, and databases (SQLite and PostgreSQL)."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import aiosqlite
import pytest

from bot.config.settings_file import parse_settings
from bot.core.settings import Settings
from integrations.zoom.signature import sign

pytest_plugins = ["tests.fakes.graph_calendar"]  # the fake Graph calendar's fixture, `graph_meetings`
FIXTURES = Path(__file__).parent / "fixtures"
SCREENSHOTS = Path(__file__).parent.parent / "test-artifacts" / "screenshots"
SECRET = "whsec-test-7Hq2-mV4cR8pL1xN6bZ3k"  # as long as a real one, or the settings refuse it
THERAPIST_A_HOST = "hTq3Wl8kR0yC5fG1nB7xZw"
THERAPIST_B_HOST = "bB0bB0bB0bB0bB0bB0bB0b"
TOKEN_A = "token-therapist-a-5e1f-Qm7Rw2Kx9Jd4Tn8"
TOKEN_B = "token-therapist-b-9c2d-Hv3Ls6Yp0Fg5Wc1"
APP_SECRET = "app-secret-of-the-tests-Rk4Mz8Qw2Xn6Tb1"  # a Zoom or Entra app's client secret in the settings tests
SESSION_KEY = "dGVzdHMtb25seS1zZXNzaW9uLWtleS0zMi1ieXRlcyE="  # encrypts the pages' sign-in cookie in tests
# Every test runs with the data at rest keyed and the notes encrypted, as the service always does.
DATA_KEY = "dGVzdHMtb25seS1kYXRhLWtleS0zMi1ieXRlcy1vayE="
NOTES_KEY = "dGVzdHMtb25seS1ub3Rlcy1rZXktMzItYnl0ZXMtb2s="
PRIVACY_TOML = f'[privacy]\ndata_key = "{DATA_KEY}"\nnotes_keys = ["{NOTES_KEY}"]\n'  # for the settings files tests write
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def pytest_configure(config: pytest.Config) -> None:
    """Name the run's screenshot folder once, before pytest-xdist starts its workers: they inherit the name."""
    os.environ.setdefault("SCREENSHOT_RUN", time.strftime("%Y%m%d-%H%M%S"))


def screenshot_folder() -> Path:
    """Return the run's screenshot folder: test-artifacts/screenshots/<$SCREENSHOT_RUN>/."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", os.environ.get("SCREENSHOT_RUN", ""))[:80] or "run"
    return SCREENSHOTS / name


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if screenshot_folder().is_dir():
        terminalreporter.write_line(f"browser test screenshots: {screenshot_folder()}")


def storage_keys(show_names: bool = False) -> Any:
    """Return the keys the tests' settings give, for a Store built without the app (bot/storage/at_rest.py)."""
    from bot.core.settings import PrivacySettings
    from bot.storage.at_rest import AtRest

    return AtRest.from_settings(PrivacySettings(show_names, DATA_KEY, (NOTES_KEY,)))


def free_port() -> int:
    """Return a loopback port free now (for a service the test starts as a separate process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings_dict(storage_url: str, **sections: Any) -> dict[str, Any]:
    """Return a valid settings mapping for two therapists, with `sections` merged in."""
    raw: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0, "session_key": SESSION_KEY},
        "storage": {"url": storage_url},
        "zoom": {"webhook_secret_token": SECRET},
        # The models cost a worker process and a second to load: only the framing tests turn them on.
        "framing": {"enabled": False},
        # The fixtures' meetings are dated up to two years back, and every app purges at start what is past
        # the limit: the tests of the purge (tests/bot/timekeeping/test_purge.py) set their own.
        "privacy": {"data_key": DATA_KEY, "notes_keys": [NOTES_KEY], "retention_days": 36500},
        "therapists": [
            {"id": "t1", "name": "Therapist A", "api_token": TOKEN_A, "zoom_user_id": THERAPIST_A_HOST, "timezone": "Europe/London"},
            {"id": "t2", "name": "Therapist B", "api_token": TOKEN_B, "zoom_user_id": THERAPIST_B_HOST, "timezone": "America/New_York"},
        ],
        "clients": [
            {"code": "C-17", "therapist": "t1", "mode": "online", "flags": ["minor_attracted"], "zoom_meeting_ids": ["85746065432"]},
        ],
    }
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(name), dict):
            raw[name] = {**raw[name], **value}
        else:
            raw[name] = value
    return raw


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'companion.db'}"


@pytest.fixture
def make_settings(sqlite_url: str) -> Callable[..., Settings]:
    def make(storage_url: str | None = None, **sections: Any) -> Settings:
        return parse_settings(settings_dict(storage_url or sqlite_url, **sections), {})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def signed_headers(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Return the headers Zoom would send with `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"x-zm-request-timestamp": ts, "x-zm-signature": sign(secret, ts, body), "Content-Type": "application/json"}


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def meeting_deliveries() -> list[dict[str, Any]]:
    """A whole therapy meeting as Zoom delivers it, in order."""
    return load_fixture("zoom/session_reconnect_recording_visitor.json")


def _postgres_available() -> str | None:
    try:
        import psycopg2

        psycopg2.connect(PG_ADMIN_DSN, connect_timeout=3).close()
        return None
    except Exception as err:  # any failure means: no server here
        return f"PostgreSQL at 127.0.0.1:5432 is not answering ({err.__class__.__name__})"


@pytest.fixture(scope="session")
def postgres_database() -> Any:
    """Create a private database for this test run on the local PostgreSQL, and drop it after."""
    reason = _postgres_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL storage tests")
        pytest.skip(reason)
    import psycopg2

    name = f"companion_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    yield name
    admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def emptied_postgres(database: str) -> str:
    """Empty the test run's PostgreSQL database and return its URL."""
    import psycopg2

    conn = psycopg2.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database}")
    conn.autocommit = True
    conn.cursor().execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """Return the URL of an empty PostgreSQL database."""
    return emptied_postgres(postgres_database)


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Each storage test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url
    return request.getfixturevalue("postgres_url")


_LOOPBACK = {"127.0.0.1", "::1", "localhost", "0.0.0.0", None, ""}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that resolves or connects to anything beyond loopback."""
    import ipaddress
    import socket

    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def check(host: Any) -> None:
        if host in _LOOPBACK:
            return
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
        raise AssertionError(f"a test reached for the network: {host!r}")

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            check(address[0])
        return real_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        check(host.decode() if isinstance(host, bytes) else host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


DEBUG_LOG_TEST = "test_the_whole_run_logged_no_secret_or_personal_data_at_debug"


@pytest.fixture(scope="session", autouse=True)
def debug_log(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Log everything, every library included, at DEBUG to one file for the whole run; the last test reads it."""
    path = tmp_path_factory.mktemp("debug-log") / "run.log"
    handler = logging.FileHandler(path, encoding="utf-8", errors="backslashreplace")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


@pytest.fixture(autouse=True)
def logs_nothing_sensitive(debug_log: Path, request: pytest.FixtureRequest) -> Any:
    """Fail a test whose log lines, at DEBUG and from any library, hold a name, email, topic, note text or token.

    The values are tests/fakes/sensitive.py's: everything the tests' people, meetings and credentials use.
    """
    from tests.fakes.sensitive import leaks

    start = debug_log.stat().st_size
    yield
    for handler in logging.getLogger().handlers:
        handler.flush()
    with debug_log.open("rb") as log:
        log.seek(start)
        text = log.read().decode("utf-8", errors="replace")
    if found := leaks(text):
        where = text.index(found[0]) if found[0] in text else 0
        pytest.fail(f"{request.node.nodeid} logged {found}: ...{text[max(0, where - 200):where + 80]}...", pytrace=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the log check last, after every test has had its chance to log."""
    items.sort(key=lambda item: item.name == DEBUG_LOG_TEST)


HANG_SECONDS = 120  # pytest-timeout ends a test at 240 s (pyproject); first, say which tasks are still pending


def _dump_pending_tasks(nodeid: str) -> None:
    out = sys.__stderr__
    pending = [task for task in list(asyncio.tasks._all_tasks) if not task.done()]
    print(f"\n{nodeid} has run {HANG_SECONDS} s; {len(pending)} asyncio task(s) pending:", file=out)
    for task in pending:
        frames = task.get_stack(limit=6)
        where = " <- ".join(f"{f.f_code.co_name} ({Path(f.f_code.co_filename).name}:{f.f_lineno})" for f in frames)
        print(f"  {task.get_name()}: {task.get_coro()!r:.120}: {where}", file=out, flush=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Name the pending asyncio tasks of a test that hangs (in its body or its loop's teardown)."""
    timer = threading.Timer(HANG_SECONDS, _dump_pending_tasks, args=(item.nodeid,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@pytest.fixture
def trips(monkeypatch):
    """Count the functions handed to aiosqlite's connection threads."""
    count = [0]
    execute = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        count[0] += 1
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return count
