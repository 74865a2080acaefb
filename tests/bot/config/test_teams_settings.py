"""Teams meetings in the settings: credentials named only when a therapist meets on Teams, and client profiles' Teams keys."""
from __future__ import annotations

import pytest

from bot.cli import main
from bot.config.settings_file import parse_settings
from bot.core.join_urls import join_url_key
from bot.core.settings import SettingsError
from tests.conftest import APP_SECRET, SECRET, TOKEN_A, settings_dict

JOIN_URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_ZmYwZTEy%40thread.v2/0?context=%7b%22Tid%22%3a%22t%22%7d"
ENTRA = "048c94fb-dda6-48b8-9fc8-6740ee418fb9"


def problems(teams_user: str = "", **sections) -> list[str]:
    raw = settings_dict("sqlite+aiosqlite:///x.db", **sections)
    raw["therapists"][1]["teams_user_id"] = teams_user
    try:
        parse_settings(raw, {})
    except SettingsError as err:
        return err.problems
    return []


def test_a_therapist_on_teams_needs_the_entra_app_and_a_public_url_and_each_missing_key_is_named():
    found = problems(ENTRA)
    who = "[[therapists]] #2 (t2) meets on Teams (teams_user_id)"
    assert found == [
        f"[teams] tenant_id is missing (or set COMPANION_TEAMS_TENANT_ID): {who}",
        f"[teams] client_id is missing (or set COMPANION_TEAMS_CLIENT_ID): {who}",
        f"[teams] client_secret is missing (or set COMPANION_TEAMS_CLIENT_SECRET): {who}",
        f"[server] public_url is missing (or set COMPANION_SERVER_PUBLIC_URL): {who}",
    ]
    teams = {"tenant_id": "t", "client_id": "c", "client_secret": APP_SECRET}
    assert problems(ENTRA, teams=teams, server={"public_url": "https://c"}) == []


def test_without_a_teams_therapist_nothing_about_teams_is_asked():
    assert problems("") == []


def test_check_config_names_the_missing_teams_keys(tmp_path, capsys):
    config = tmp_path / "companion.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite+aiosqlite:///x.db"\n[zoom]\nwebhook_secret_token = "{SECRET}"\n'
        f'[[therapists]]\nid = "t1"\nname = "A"\napi_token = "{TOKEN_A}"\nteams_user_id = "' + ENTRA + '"\n',
        encoding="utf-8",
    )
    assert main(["check-config", "--config", str(config)]) != 0
    err = capsys.readouterr().err
    assert "[teams] client_secret is missing" in err and "#1 (t1) meets on Teams" in err


def test_a_client_profile_names_its_teams_meetings_by_join_url_and_the_client_by_entra_id():
    clients = [{"code": "C-9", "therapist": "t1", "teams_join_urls": [JOIN_URL], "entra_ids": [ENTRA], "emails": ["c@example.org"]}]
    raw = settings_dict("sqlite+aiosqlite:///x.db", clients=clients)
    profile = parse_settings(raw, {}).clients[0]
    assert profile.teams_join_urls == (JOIN_URL,) and profile.entra_ids == (ENTRA,)
    assert join_url_key(JOIN_URL) in profile.meeting_ids


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("teams_join_urls", "http://teams.microsoft.com/l/meetup-join/x/0", "teams_join_urls: entry 1 is not a meeting join URL"),
        ("teams_join_urls", "19:meeting_x@thread.v2", "teams_join_urls: entry 1 is not a meeting join URL"),
        ("entra_ids", "client-person", "entra_ids: entry 1 is not an Entra object id (a GUID)"),
        ("emails", "not an address", "emails: entry 1 is not an email address"),
    ],
)
def test_a_bad_profile_entry_is_named_by_position_never_by_value(key, value, problem):
    found = problems(clients=[{"code": "C-9", "therapist": "t1", key: [value]}])
    assert [p for p in found if problem in p] and not [p for p in found if value in p]


TEAMS = {"tenant_id": "t", "client_id": "c", "client_secret": APP_SECRET}


def test_camera_tracking_is_off_unless_turned_on_and_the_bots_keys_come_from_the_bot_framework_by_default():
    raw = settings_dict("sqlite+aiosqlite:///x.db", teams=TEAMS, server={"public_url": "https://c"})
    raw["therapists"][0].update(teams_user_id=ENTRA, teams_camera_tracking=True)
    settings = parse_settings(raw, {})
    assert [t.teams_camera_tracking for t in settings.therapists] == [True, False]
    assert settings.teams.bot_openid_url == "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration"
    environ = {"COMPANION_THERAPIST_T1_TEAMS_CAMERA_TRACKING": "false", "COMPANION_TEAMS_BOT_OPENID_URL": "https://login.botframework.com/v1/.well-known/openidconfiguration"}
    settings = parse_settings(raw, environ)
    assert not settings.therapists[0].teams_camera_tracking
    assert settings.teams.bot_openid_url == "https://login.botframework.com/v1/.well-known/openidconfiguration"


@pytest.mark.parametrize(
    "therapist, teams, problem",
    [
        ({"teams_camera_tracking": "yes"}, {}, "[[therapists]] #1 (t1) teams_camera_tracking must be true or false, not 'yes'"),
        ({"teams_camera_tracking": True}, {}, "[[therapists]] #1 (t1) teams_camera_tracking needs teams_user_id"),
        ({"teams_camera_tracking": True, "teams_user_id": ENTRA}, {**TEAMS, "bot_openid_url": ""}, "[teams] bot_openid_url is missing: [[therapists]] #1 (t1) turn on teams_camera_tracking"),
        ({}, {"bot_openid_url": "http://api.aps.skype.com/v1/.well-known/OpenIdConfiguration"}, "[teams] bot_openid_url must start with https://"),
    ],
)
def test_camera_tracking_settings_that_cannot_work_are_named(therapist, teams, problem):
    raw = settings_dict("sqlite+aiosqlite:///x.db", teams=teams, server={"public_url": "https://c"})
    raw["therapists"][0].update(therapist)
    with pytest.raises(SettingsError) as refused:
        parse_settings(raw, {})
    assert [p for p in refused.value.problems if p.startswith(problem)], refused.value.problems


def test_check_config_names_what_camera_tracking_lacks(tmp_path, capsys):
    config = tmp_path / "companion.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite+aiosqlite:///x.db"\n[zoom]\nwebhook_secret_token = "{SECRET}"\n[teams]\nbot_openid_url = ""\n'
        f'[[therapists]]\nid = "t1"\nname = "A"\napi_token = "{TOKEN_A}"\nteams_user_id = "' + ENTRA + '"\nteams_camera_tracking = true\n',
        encoding="utf-8",
    )
    assert main(["check-config", "--config", str(config)]) != 0
    err = capsys.readouterr().err
    assert "[teams] bot_openid_url is missing" in err and "[server] public_url is missing" in err and "[teams] client_id is missing" in err
