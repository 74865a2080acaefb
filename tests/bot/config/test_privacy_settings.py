"""[privacy] retention_days and [logging]: defaults, validation, and the environment."""
from __future__ import annotations

import pytest

from bot.config.settings_file import parse_settings
from bot.core.settings import SettingsError
from tests.conftest import settings_dict

URL = "sqlite+aiosqlite:///x.db"


def _without_privacy(**sections):
    raw = settings_dict(URL, **sections)
    if "privacy" not in sections:
        del raw["privacy"]  # the suite's own settings keep everything: here the defaults are the point
    return raw


def test_a_year_is_kept_by_default_and_the_libraries_log_at_warning():
    settings = parse_settings(_without_privacy(), {})
    assert settings.privacy.retention_days == 365
    assert (settings.logging.level, settings.logging.library_levels) == ("INFO", ())


def test_retention_is_a_whole_number_of_days_from_one_to_a_hundred_years():
    assert parse_settings(_without_privacy(privacy={"retention_days": 30}), {}).privacy.retention_days == 30
    assert parse_settings(_without_privacy(), {"COMPANION_PRIVACY_RETENTION_DAYS": "90"}).privacy.retention_days == 90
    for bad, message in ((0, "must be positive"), (-5, "must be positive"), (36501, "must be at most 36500"), ("a year", "must be a whole number"), (1.5, "must be a whole number")):
        with pytest.raises(SettingsError) as caught:
            parse_settings(_without_privacy(privacy={"retention_days": bad}), {})
        assert f"[privacy] retention_days {message}" in str(caught.value), bad


def test_the_operator_may_name_a_level_for_the_service_and_for_any_library():
    settings = parse_settings(settings_dict(URL, logging={"level": "debug", "library_levels": {"sqlalchemy.engine": "info", "urllib3": "ERROR"}}), {})
    assert settings.logging.level == "DEBUG"
    assert settings.logging.library_levels == (("sqlalchemy.engine", "INFO"), ("urllib3", "ERROR"))
    from_env = parse_settings(settings_dict(URL), {"COMPANION_LOGGING_LIBRARY_LEVELS": "aiosqlite=DEBUG, msal=INFO"})
    assert from_env.logging.library_levels == (("aiosqlite", "DEBUG"), ("msal", "INFO"))


def test_a_bad_level_is_named():
    raw = settings_dict(URL, logging={"level": "LOUD", "library_levels": {"asyncpg": "VERBOSE", "x": 3}})
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, {})
    text = str(caught.value)
    assert "[logging] level must be one of DEBUG, INFO" in text
    assert "library_levels: 'asyncpg' must name a logger" in text and "library_levels: 'x' must name a logger" in text
    with pytest.raises(SettingsError, match="library_levels must be a table"):
        parse_settings(settings_dict(URL, logging={"library_levels": ["asyncpg"]}), {})
