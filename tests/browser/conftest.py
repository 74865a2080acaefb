"""Browser tests: a real Chromium (Debian's, through Playwright) against a real `companion serve` subprocess.

The service runs with a temporary config file and SQLite database on a free loopback port; the therapists'
passwords are set with the real `companion therapist set-password` CLI. Each test drives its own Chromium
profile and saves a screenshot of each page it sees under test-artifacts/screenshots/<run>/<test>/, where
<run> is $SCREENSHOT_RUN or the run's start time; the folder is printed at the end of the run.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import aiohttp
import pytest

from tests.conftest import (
    PRIVACY_TOML,
    SECRET,
    SESSION_KEY,
    THERAPIST_A_HOST,
    THERAPIST_B_HOST,
    TOKEN_A,
    TOKEN_B,
    free_port,
    screenshot_folder,
    signed_headers,
)
from tests.fakes.companion_process import ROOT, CompanionProcess
from tests.fakes.rtms_server import RTMS_CLIENT_ID, RTMS_SECRET

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, headless, as root, touching nothing beyond loopback.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD_A = "a long browser-test password for A"
PASSWORD_B = "a long browser-test password for B"
ALERT_SECONDS = 2  # [alerts] video_off_alert_seconds: a camera off this long raises client_video_off
PROMPT_SECONDS = 1  # [prompts] camera_off_min_seconds: a camera-off interval this long earns a note prompt
ZONE = "Europe/London"  # therapist t1's time zone, and the browser's


def _browser_missing() -> str | None:
    """Return why the browser tests cannot run here, or None."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser_available() -> None:
    """Skip locally without a browser; under CI a missing browser fails the run."""
    reason = _browser_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the browser tests", pytrace=False)
        pytest.skip(reason)


# ---------------------------------------------------------------- screenshots


@pytest.fixture(scope="session")
def screenshot_root() -> Path:
    """The run's screenshot folder: test-artifacts/screenshots/<run>/ (printed at the end of the run)."""
    folder = screenshot_folder()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    """Keep each phase's report on the test, so that the browser fixture knows whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# ---------------------------------------------------------------- the service


def write_config(folder: Path, port: int) -> Path:
    path = folder / "companion.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
session_key = "{SESSION_KEY}"
[storage]
url = "sqlite+aiosqlite:///{folder / 'companion.db'}"
{PRIVACY_TOML}[zoom]
webhook_secret_token = "{SECRET}"
rtms_client_id = "{RTMS_CLIENT_ID}"
rtms_client_secret = "{RTMS_SECRET}"
[reminders]
sync_interval_minutes = 0
[alerts]
video_off_alert_seconds = {ALERT_SECONDS}
video_off_repeat_seconds = 3600
[prompts]
camera_off_min_seconds = {PROMPT_SECONDS}
[framing]
enabled = false
[[therapists]]
id = "t1"
name = "Therapist A"
api_token = "{TOKEN_A}"
zoom_user_id = "{THERAPIST_A_HOST}"
timezone = "{ZONE}"
[[therapists]]
id = "t2"
name = "Therapist B"
api_token = "{TOKEN_B}"
zoom_user_id = "{THERAPIST_B_HOST}"
timezone = "America/New_York"
[[clients]]
code = "C-17"
therapist = "t1"
flags = ["minor_attracted"]
zoom_meeting_ids = ["85746065432"]
""",
        encoding="utf-8",
    )
    return path


def companion(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the `companion` command line (bot.cli, as the installed script does) from this tree."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=60
    )


class Service(CompanionProcess):
    """A `companion serve` subprocess on a loopback port, configured for the browser tests."""

    def __init__(self, folder: Path) -> None:
        port = free_port()
        super().__init__(write_config(folder, port), port, folder / "server.log")
        self.folder = folder

    async def webhook(self, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.base}/webhooks/zoom", data=raw, headers=signed_headers(raw)) as response:
                assert response.status == 200, await response.text()

    async def api(self, path: str, token: str = TOKEN_A) -> Any:
        """GET a path of the bearer-token JSON API, as therapist A by default."""
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{self.base}{path}", headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status == 200, await response.text()
                return await response.json()


@pytest.fixture(scope="session")
def service(browser_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One real `companion serve` for the browser tests, with passwords set through the CLI."""
    folder = tmp_path_factory.mktemp("browser-service")
    server = Service(folder)
    for therapist, password in (("t1", PASSWORD_A), ("t2", PASSWORD_B)):
        done = companion("therapist", "set-password", therapist, "--config", str(server.config), stdin=password + "\n")
        assert done.returncode == 0, done.stderr
        assert f"the password of therapist {therapist} is set" in done.stdout
    server.start_blocking()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- the browser

# Runs in every page before its own scripts (from the browser, not the page: the CSP does not apply to it).
_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


# Visible form controls without a label (or aria-label), and buttons or links without words.
_UNNAMED_CONTROLS = """() => Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea, button, a[href]"))
  .filter((el) => el.offsetParent !== null)
  .filter((el) => {
    if (el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")) { return false; }
    if (el.matches("button, a")) { return !el.textContent.trim(); }
    return !(el.labels && el.labels.length);
  })
  .map((el) => el.outerHTML.slice(0, 80))"""


class Browser:
    """A Chromium profile of its own, one page, its console's errors, and the test's screenshots."""

    def __init__(self, context: Any, page: Any, shots: Path, base: str) -> None:
        self.context, self.page, self.shots, self.base = context, page, shots, base
        self.problems: list[str] = []
        self.tolerated: list[re.Pattern[str]] = []  # console errors a test expects (a dropped connection's)
        self._count = 0
        context.on("page", self._watch)
        self._watch(page)

    def _watch(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: Any) -> None:
        if message.type not in ("error", "warning"):
            return
        text = message.text
        if message.type == "warning" and "Content Security Policy" not in text:
            return
        if any(pattern.search(text) for pattern in self.tolerated):
            return
        self.problems.append(f"console {message.type}: {text} ({message.location.get('url', '')})")

    async def shot(self, name: str) -> Path:
        """Save a full-page screenshot of what the page shows now, numbered in the test's order.

        Every page shot is also checked for controls without a name a screen reader can say.
        """
        unnamed = await self.page.evaluate(_UNNAMED_CONTROLS)
        assert not unnamed, f"{self.page.url}: controls without a label or name: {unnamed}"
        self._count += 1
        path = self.shots / f"{self._count:02d}-{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    async def goto(self, path: str) -> Any:
        response = await self.page.goto(self.base + path)
        assert response is not None
        return response

    async def check_clean(self) -> None:
        """Fail on any CSP violation, script error or console error seen so far."""
        try:
            self.problems += [f"CSP violation: {v}" for v in await self.page.evaluate("window.__cspViolations || []")]
        except Exception:  # the page may be closed or navigating
            pass
        assert not self.problems, "the browser reported:\n" + "\n".join(self.problems)


@pytest.fixture
async def browser(service: Service, screenshot_root: Path, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Browser]:
    """A fresh Chromium profile (empty user-data-dir) with one page; no CSP violation or JS error may occur."""
    from playwright.async_api import async_playwright

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    shots = screenshot_root / request.node.name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1024, "height": 800}, locale="en-GB", timezone_id=ZONE, accept_downloads=True,
        )
        context.set_default_timeout(10_000)
        await context.add_init_script(_WATCH_CSP)
        page = context.pages[0] if context.pages else await context.new_page()
        driven = Browser(context, page, shots, service.base)
        try:
            yield driven
            failed = getattr(request.node, "rep_call", None)
            if failed is not None and failed.failed:
                await driven.shot("at-failure")
            await driven.check_clean()
        finally:
            await context.close()


async def sign_in(browser: Browser, account: str = "t1", password: str = PASSWORD_A) -> None:
    """Fill in and send the sign-in form the page is showing."""
    page = browser.page
    await page.get_by_label("Your therapist id").fill(account)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()


async def no_sideways_scroll(browser: Browser, width: int = 320) -> None:
    """Assert the page fits its width: nothing makes it scroll sideways."""
    scroll = await browser.page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll <= width, f"{browser.page.url} scrolls sideways at {width} px: {scroll} px wide"
