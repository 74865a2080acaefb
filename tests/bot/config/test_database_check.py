"""`[storage] url` is checked before anything connects, and the driver's reason is kept when it cannot quote a value (bot/config/database_check.py)."""
from __future__ import annotations

import pytest

from bot.config.settings_file import parse_settings
from bot.core.settings import SettingsError
from tests.conftest import settings_dict


def problems(url: str) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse_settings(settings_dict(url), {})
    return caught.value.problems


def test_an_sqlite_url_missing_its_third_slash_says_how_it_is_written():
    (found,) = problems("sqlite+aiosqlite://x.db")
    assert found.startswith("[storage] url names a host (x.db): an SQLite URL has three slashes before the file")


@pytest.mark.parametrize("url, password", [("postgresql+asyncpg://companion:pa55w0rd@db.example.org:fivefourthree/companion", "pa55w0rd"),
                                           ("postgresql+asyncpg://companion:p@55:w0rd@db.example.org/companion", "w0rd@db")])
def test_a_url_sqlalchemy_cannot_read_is_named_without_quoting_its_password(url, password):
    (found,) = problems(url)
    assert found.startswith("[storage] url cannot be read as a database URL") and password not in found


@pytest.mark.parametrize("url, expected", [("mysql://db/companion", "[storage] url must start with sqlite+aiosqlite:// or postgresql+asyncpg://"),
                                           ("postgresql+asyncpg://db.example.org", "[storage] url names no database")])
def test_other_unusable_urls_are_named(url, expected):
    (found,) = problems(url)
    assert found.startswith(expected)
