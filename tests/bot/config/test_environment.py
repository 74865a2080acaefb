"""The `COMPANION_*` variables: a misspelt one is named with the closest key, and a bad value from one says so (bot/config/environment.py)."""
from __future__ import annotations

import pytest

from bot.config.settings_file import parse_settings
from bot.core.settings import SettingsError
from tests.conftest import DATA_KEY, NOTES_KEY, SECRET, TOKEN_B, settings_dict

URL = "sqlite+aiosqlite:///x.db"


def problems(environ, raw=None) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw or settings_dict(URL), environ)
    return caught.value.problems


@pytest.mark.parametrize("name, closest", [
    ("COMPANION_ZOOM_WEBHOOK_SECRET", "COMPANION_ZOOM_WEBHOOK_SECRET_TOKEN"),
    ("COMPANION_SERVER_PUBLIC_URI", "COMPANION_SERVER_PUBLIC_URL"),
    ("COMPANION_THERAPIST_T1_API_TOKN", "COMPANION_THERAPIST_T1_API_TOKEN"),
    ("COMPANION_CONFG", "COMPANION_CONFIG"),
])
def test_an_unknown_variable_is_named_with_the_closest_one(name, closest):
    assert problems({name: SECRET}) == [f"environment variable {name} is not one the service reads (did you mean {closest}?)"]


def test_a_variable_far_from_every_key_says_how_they_are_named():
    (found,) = problems({"COMPANION_X": "1"})
    assert found.startswith("environment variable COMPANION_X is not one the service reads") and "COMPANION_<SECTION>_<KEY>" in found


def test_the_variables_the_service_reads_are_known_and_others_are_not_its_business():
    environ = {
        "COMPANION_CONFIG": "/etc/companion.toml", "COMPANION_PRIVACY_NOTES_KEY": NOTES_KEY, "COMPANION_PRIVACY_DATA_KEY": DATA_KEY,
        "COMPANION_ZOOM_RTMS_FPS": "2", "COMPANION_THERAPIST_T2_API_TOKEN": TOKEN_B[::-1], "HOME": "/root", "COMPANIONS": "x",
    }
    settings = parse_settings(settings_dict(URL), environ)
    assert settings.zoom.rtms_fps == 2 and settings.therapists[1].api_token == TOKEN_B[::-1]


def test_a_therapist_variable_for_an_id_no_therapist_has_is_unknown():
    (found,) = problems({"COMPANION_THERAPIST_T3_API_TOKEN": TOKEN_B})
    assert found.startswith("environment variable COMPANION_THERAPIST_T3_API_TOKEN is not one the service reads (did you mean")


def test_a_bad_value_from_the_environment_names_its_variable():
    found = problems({"COMPANION_ZOOM_RTMS_FPS": "9", "COMPANION_THERAPIST_T1_API_TOKEN": "short", "COMPANION_SERVER_PUBLIC_URL": "companion.example.org"})
    assert "[zoom] rtms_fps must be between 1 and 5 (from COMPANION_ZOOM_RTMS_FPS)" in found
    assert any(p.startswith("[[therapists]] #1 (t1) api_token is 5 characters long") and p.endswith("(from COMPANION_THERAPIST_T1_API_TOKEN)") for p in found)
    assert any(p.startswith("[server] public_url must be") and p.endswith("(from COMPANION_SERVER_PUBLIC_URL)") for p in found)
    assert len(found) == 3


def test_the_same_bad_value_from_the_file_names_no_variable():
    assert problems({}, settings_dict(URL, zoom={"rtms_fps": 9})) == ["[zoom] rtms_fps must be between 1 and 5"]
