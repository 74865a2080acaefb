"""What `companion serve` imports before its port is bound: not the libraries only some services or some requests use."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# Loaded at first use: Alembic when a database is not at this code's revision, msal with Teams, zoomus and
# requests at the first Zoom API call, WeasyPrint at the first PDF.
LATER = ("alembic", "msal", "zoomus", "requests", "weasyprint")


def test_the_serve_command_and_the_app_load_without_the_libraries_used_later():
    probe = f"import sys, bot.cli, bot.web.serving, bot.web.app; print(sorted(m for m in {LATER!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_companion_serve_reads_its_settings_and_opens_its_door_before_importing_aiohttp_the_app_or_the_storage(tmp_path):
    # /healthz answers from the starting door (bot/web/starting.py) while the rest is imported in a thread.
    from tests.fakes.companion_process import write_config

    config = write_config(tmp_path, 8080)
    probe = (
        "import sys, bot.cli, bot.web.serving, bot.web.starting; from bot.config.settings_file import load_settings; "
        f"load_settings({str(config)!r}); "
        "print(sorted(m for m in ('aiohttp', 'bot.web.app', 'bot.storage.store', 'bot.tracking.tracker', 'sqlalchemy.orm') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
