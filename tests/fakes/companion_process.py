"""`companion serve` from this tree in a subprocess, for tests that need the real service: started, stopped, killed."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Mapping

import aiohttp

from tests.conftest import PRIVACY_TOML, SECRET, THERAPIST_A_HOST, TOKEN_A

ROOT = Path(__file__).parent.parent.parent
START_SECONDS = 30.0  # a deadline, not a wait: the service usually answers within a second or two


def write_config(
    folder: Path, port: int, server: str = "", zoom: str = "", reminders: str = "sync_interval_minutes = 0", extra: str = "", therapist: str = ""
) -> Path:
    """Write `folder/companion.toml`: therapist t1 on Zoom and SQLite in `folder`; `server`, `zoom`, `reminders` and
    `therapist` are more TOML lines for those tables (t1's, for `therapist`), `extra` more tables."""
    path = folder / "companion.toml"
    path.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n{server}\n[storage]\nurl = "sqlite+aiosqlite:///{folder / "companion.db"}"\n{PRIVACY_TOML}'
        f'[zoom]\nwebhook_secret_token = "{SECRET}"\n{zoom}\n[reminders]\n{reminders}\n{extra}\n'
        f'[[therapists]]\nid = "t1"\nname = "Therapist A"\napi_token = "{TOKEN_A}"\nzoom_user_id = "{THERAPIST_A_HOST}"\n{therapist}\n',
        encoding="utf-8",
    )
    return path


class CompanionProcess:
    """One `companion serve --config CONFIG` on a loopback port; its output goes to `log`, which a failed start quotes."""

    def __init__(self, config: Path, port: int, log: Path, env: Mapping[str, str] | None = None) -> None:
        self.config, self.port, self.log = config, port, log
        self.base = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None

    def _launch(self) -> subprocess.Popen:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--config", str(self.config)], cwd=ROOT, stdout=log, stderr=log, env=self.env
            )
        return self.process

    def _failed(self) -> AssertionError:
        return AssertionError("companion serve did not start:\n" + self.log.read_text())

    async def start(self) -> None:
        """Start the service and return once `/readyz` says it is ready, without blocking the loop (fakes may share it).

        Not `/healthz`: the port answers that while the service is still loading and starting (bot/web/starting.py).
        """
        process, deadline = self._launch(), time.monotonic() + START_SECONDS
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:  # a stuck answer is asked again
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    async with http.get(f"{self.base}/readyz") as answer:
                        if answer.status == 200:
                            return
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(0.05)
        raise self._failed()

    def start_blocking(self) -> None:
        """Start the service and return once `/readyz` says it is ready, for fixtures outside an event loop."""
        process, deadline = self._launch(), time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise self._failed()

    def stop(self) -> None:
        """Stop the service as an operator would (SIGTERM), killing it if it does not end in time."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def kill(self) -> None:
        """End the service at once (SIGKILL), as a crash or a lost machine would."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
