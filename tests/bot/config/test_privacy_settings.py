"""`[privacy]`: the data key and the notes keys (from the file, a key file or the environment), every problem named at once."""
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
