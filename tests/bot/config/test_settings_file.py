"""Settings: one TOML file, environment overrides for secrets, every bad key named at once."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config.settings_file import load_settings, parse_settings
from bot.core.settings import SettingsError
from tests.conftest import DATA_KEY, NOTES_KEY, SECRET, TOKEN_A, TOKEN_B, settings_dict

ROOT = Path(__file__).parents[3]


def test_the_example_config_is_valid_once_its_secrets_are_given_and_documents_every_key():
    # Valid once given its keys and secrets, which are never an example's: from the environment here.
    keys = {"COMPANION_PRIVACY_DATA_KEY": DATA_KEY, "COMPANION_PRIVACY_NOTES_KEY": NOTES_KEY}
    secrets = {"COMPANION_ZOOM_WEBHOOK_SECRET_TOKEN": SECRET, "COMPANION_THERAPIST_T1_API_TOKEN": TOKEN_A}
    settings = load_settings(ROOT / "config" / "companion.example.toml", {**keys, **secrets})
    assert settings.therapists[0].timezone == "Europe/London"
    text = (ROOT / "config" / "companion.example.toml").read_text()
    for section in ("server", "storage", "zoom", "teams", "reminders", "alerts", "watchdog", "framing", "prompts", "privacy", "logging", "metrics", "cluster"):
        for f in dataclasses.fields(type(getattr(settings, section))):
            assert f"\n{f.name} =" in text, f"[{section}] {f.name} is not documented"


def test_defaults_fill_what_is_left_out():
    settings = parse_settings(settings_dict("sqlite+aiosqlite:///x.db", server={}), {})
    assert settings.alerts.video_off_alert_seconds == 60
    assert settings.zoom.api_base_url == "https://api.zoom.us/v2"
    assert settings.therapists[0].channels == ("dashboard",)


def test_every_problem_is_named_at_once():
    raw = settings_dict(
        "mysql://nope",
        zoom={"webhook_secret_token": "", "rtms_fps": 9},
        server={"port": "eighty"},
        surprise={"x": 1},
    )
    raw["therapists"][1]["timezone"] = "Mars/Olympus"
    raw["therapists"][1]["channels"] = ["pager"]
    del raw["therapists"][0]["api_token"]
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, {})
    text = str(caught.value)
    for expected in (
        "[storage] url must start with",
        "[zoom] webhook_secret_token is missing",
        "[zoom] rtms_fps must be between 1 and 5",
        "[server] port must be a whole number",
        "[surprise] is not a known section",
        "#2 (t2) timezone 'Mars/Olympus'",
        "'pager' is not one of",
        "#1 (t1) api_token is missing",
    ):
        assert expected in text, expected


def test_a_client_of_an_unknown_therapist_is_refused():
    raw = settings_dict("sqlite+aiosqlite:///x.db", clients=[{"code": "C-1", "therapist": "nobody"}])
    with pytest.raises(SettingsError, match="'nobody' is not a configured therapist"):
        parse_settings(raw, {})


def test_secrets_come_from_the_environment_and_win_over_the_file():
    raw = settings_dict("sqlite+aiosqlite:///x.db", zoom={"webhook_secret_token": ""})
    raw["therapists"][0]["api_token"] = ""
    settings = parse_settings(
        raw,
        {"COMPANION_ZOOM_WEBHOOK_SECRET_TOKEN": SECRET[::-1], "COMPANION_THERAPIST_T1_API_TOKEN": TOKEN_B[::-1], "COMPANION_SERVER_PORT": "9090"},
    )
    assert settings.zoom.webhook_secret_token == SECRET[::-1]
    assert settings.therapists[0].api_token == TOKEN_B[::-1]
    assert settings.server.port == 9090


def test_the_settings_are_frozen():
    settings = parse_settings(settings_dict("sqlite+aiosqlite:///x.db"), {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.zoom.webhook_secret_token = "x"  # type: ignore[misc]


@pytest.mark.parametrize("text, message", [("not = [toml", "not valid TOML"), (None, "does not exist")])
def test_unreadable_files_are_a_clear_error(tmp_path, text, message):
    path = tmp_path / "c.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_settings(path, {})


def test_the_connection_limits_have_defaults_and_must_be_positive():
    server = parse_settings(settings_dict("sqlite+aiosqlite:///x.db"), {}).server
    assert (server.max_connections, server.max_streams_per_therapist, server.request_timeout_seconds) == (1000, 20, 30)
    raw = settings_dict("sqlite+aiosqlite:///x.db", server={"max_connections": 0, "max_streams_per_therapist": -1, "request_timeout_seconds": 0})
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, {})
    for key in ("max_connections", "max_streams_per_therapist", "request_timeout_seconds"):
        assert f"[server] {key} must be positive" in str(caught.value)


def test_framing_thresholds_are_numbers_in_their_ranges_and_the_environment_may_set_them():
    settings = parse_settings(settings_dict("sqlite+aiosqlite:///x.db", framing={"debounce_seconds": 8, "workers": 2}), {"COMPANION_FRAMING_ENABLED": "false"})
    assert settings.framing.debounce_seconds == 8.0 and settings.framing.workers == 2 and settings.framing.enabled is False
    bad = {"workers": 0, "enabled": "yes", "hand_visibility": 1.5, "debounce_seconds": 0, "upright_angle_degrees": 60, "distance_ratio": 0.5, "frozen_seconds": "soon"}
    with pytest.raises(SettingsError) as caught:
        parse_settings(settings_dict("sqlite+aiosqlite:///x.db", framing=bad), {})
    problems = "\n".join(caught.value.problems)
    for key in ("workers must be positive", "enabled must be true or false", "hand_visibility must be between 0 and 1",
                "debounce_seconds must be above zero", "upright_angle_degrees must be above 0 and below lying_angle_degrees",
                "distance_ratio must be above 1", "frozen_seconds must be a number"):
        assert f"[framing] {key}" in problems


@pytest.mark.parametrize("flag, meant", [("animal", "animals"), ("minor-attracted", "minor_attracted"), ("Animals", "animals")])
def test_a_client_flag_the_checklist_does_not_know_is_refused_with_the_one_meant(flag, meant):
    raw = settings_dict("sqlite+aiosqlite:///x.db", clients=[{"code": "C-17", "therapist": "t1", "flags": ["animals", flag]}])
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, {})
    assert caught.value.problems == [f"[[clients]] #1 flags: unknown flag {flag!r} (did you mean {meant!r}?)"]


def test_the_flags_are_those_of_the_operators_own_checklist(tmp_path):
    own = tmp_path / "checklist.toml"
    own.write_text('[[items]]\nid = "pets"\ngroup = "Room"\ntext = "Pets out of the room"\nflags = ["pets"]\n', encoding="utf-8")
    clients = [{"code": "C-17", "therapist": "t1", "flags": ["pets"]}]
    settings = parse_settings(settings_dict("sqlite+aiosqlite:///x.db", reminders={"checklist_file": str(own)}, clients=clients), {})
    assert settings.clients[0].flags == ("pets",)
    with pytest.raises(SettingsError, match=r"unknown flag 'animals'; the checklist knows pets"):
        parse_settings(settings_dict("sqlite+aiosqlite:///x.db", reminders={"checklist_file": str(own)}, clients=[{**clients[0], "flags": ["animals"]}]), {})


def test_a_bad_checklist_is_named_with_every_other_problem(tmp_path):
    bad = tmp_path / "checklist.toml"
    bad.write_text("[[items]]\nid = 'x'\n", encoding="utf-8")
    raw = settings_dict("sqlite+aiosqlite://x.db", reminders={"checklist_file": str(bad)}, zoom={"webhook_secret_token": "..."})
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, {"COMPANION_ZOOM_WEBHOOK_SECRET": SECRET})
    text = "\n".join(caught.value.problems)
    for expected in (f"{bad}: [[items]] #1 text must be a non-empty string", "[storage] url names a host (x.db)",
                     "[zoom] webhook_secret_token is a placeholder", "environment variable COMPANION_ZOOM_WEBHOOK_SECRET"):
        assert expected in text, expected
