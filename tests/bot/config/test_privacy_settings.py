"""`[privacy]` and `[logging]`: the data key and the notes keys (from the file, a key file or the environment), retention, log levels; every problem named at once."""
from __future__ import annotations

import pytest

from bot.config.settings_file import parse_settings
from bot.core.settings import SettingsError
from tests.conftest import DATA_KEY, NOTES_KEY, settings_dict

OLDER = "dGVzdHMtb25seS1vbGRlci1ub3Rlcy1rZXktMzJieXQ="
URL = "sqlite+aiosqlite:///x.db"


def problems(raw, environ=None) -> str:
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, environ or {})
    return str(caught.value)


def test_names_are_off_by_default_and_the_keys_are_read():
    privacy = parse_settings(settings_dict(URL), {}).privacy
    assert (privacy.show_names, privacy.data_key, privacy.notes_keys) == (False, DATA_KEY, (NOTES_KEY,))


def test_missing_keys_are_named_with_every_other_problem_and_how_to_make_one():
    text = problems(settings_dict(URL, privacy={"data_key": "", "notes_keys": []}, zoom={"webhook_secret_token": ""}))
    assert "[privacy] notes_keys is missing" in text and "COMPANION_PRIVACY_NOTES_KEY" in text
    assert "[privacy] data_key is missing" in text and "COMPANION_PRIVACY_DATA_KEY" in text
    assert "companion new-key" in text and "companion init" in text
    assert "[zoom] webhook_secret_token is missing" in text


def test_a_malformed_key_is_named_by_place_never_quoted():
    text = problems(settings_dict(URL, privacy={"data_key": "short-secret-words", "notes_keys": [NOTES_KEY, "another-secret-thing"]}))
    assert "[privacy] notes_keys: key 2 is not 32 bytes in url-safe base64" in text
    assert "[privacy] data_key is not 32 bytes in url-safe base64" in text
    assert "secret" not in text
    assert "must not also be a notes key" in problems(settings_dict(URL, privacy={"data_key": NOTES_KEY}))
    assert "[privacy] notes_keys must be a list of keys" in problems(settings_dict(URL, privacy={"notes_keys": [1]}))


def test_the_environment_wins_and_may_give_several_notes_keys():
    environ = {"COMPANION_PRIVACY_NOTES_KEY": f"{OLDER}, {NOTES_KEY}", "COMPANION_PRIVACY_SHOW_NAMES": "true"}
    privacy = parse_settings(settings_dict(URL, privacy={"notes_keys": []}), environ).privacy
    assert privacy.notes_keys == (OLDER, NOTES_KEY) and privacy.show_names is True
    assert parse_settings(settings_dict(URL, privacy={"data_key": ""}), {"COMPANION_PRIVACY_DATA_KEY": DATA_KEY}).privacy.data_key == DATA_KEY


def test_a_key_file_holds_the_keys_one_a_line_the_first_current(tmp_path):
    key_file = tmp_path / "notes.keys"
    key_file.write_text(f"# rotated 2026-11\n{OLDER}\n\n{NOTES_KEY}\n", encoding="utf-8")
    privacy = parse_settings(settings_dict(URL, privacy={"notes_keys": [], "notes_key_file": str(key_file)}), {}).privacy
    assert privacy.notes_keys == (OLDER, NOTES_KEY)
    assert "give notes_keys or notes_key_file, not both" in problems(settings_dict(URL, privacy={"notes_key_file": str(key_file)}))
    missing = problems(settings_dict(URL, privacy={"notes_keys": [], "notes_key_file": str(tmp_path / "none")}))
    assert "notes_key_file" in missing and "cannot be read" in missing and "[privacy] notes_keys is missing" in missing


def _default_retention(**sections):
    raw = settings_dict(URL, **sections)
    if "retention_days" not in sections.get("privacy", {}):
        del raw["privacy"]["retention_days"]  # the suite's own settings keep everything: here the default is the point
    return raw


def test_a_year_is_kept_by_default_and_the_libraries_log_at_warning():
    settings = parse_settings(_default_retention(), {})
    assert settings.privacy.retention_days == 365
    assert (settings.logging.level, settings.logging.library_levels) == ("INFO", ())


def test_retention_is_a_whole_number_of_days_from_one_to_a_hundred_years():
    assert parse_settings(_default_retention(privacy={"retention_days": 30}), {}).privacy.retention_days == 30
    assert parse_settings(_default_retention(), {"COMPANION_PRIVACY_RETENTION_DAYS": "90"}).privacy.retention_days == 90
    for bad, message in ((0, "must be positive"), (-5, "must be positive"), (36501, "must be at most 36500"), ("a year", "must be a whole number"), (1.5, "must be a whole number")):
        with pytest.raises(SettingsError) as caught:
            parse_settings(_default_retention(privacy={"retention_days": bad}), {})
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
