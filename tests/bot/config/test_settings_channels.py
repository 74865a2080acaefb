"""Start-up refuses a channel enabled without its credentials, naming every missing key."""
from __future__ import annotations

import pytest

from bot.config.settings_file import parse_settings
from bot.core.settings import SettingsError
from tests.conftest import APP_SECRET, TOKEN_A, settings_dict

ZOOM = {"account_id": "a", "chatbot_client_id": "c", "chatbot_client_secret": APP_SECRET, "robot_jid": "r@xmpp.zoom.us"}
TEAMS = {"tenant_id": "t", "client_id": "c", "client_secret": APP_SECRET}


def problems(channels, **sections) -> list[str]:
    raw = settings_dict("sqlite+aiosqlite:///x.db", **sections)
    raw["therapists"][0]["channels"] = channels
    try:
        parse_settings(raw, {})
    except SettingsError as err:
        return err.problems
    return []


def test_zoom_chat_without_chatbot_credentials_names_each_key():
    found = problems(["zoom_chat"], server={"public_url": "https://c"})
    for key in ("chatbot_client_id", "chatbot_client_secret", "robot_jid", "account_id"):
        assert f"[zoom] {key} is missing: [[therapists]] #1 (t1) enables channel zoom_chat" in found
    assert "[zoom] client_id is missing: [[therapists]] #1 (t1) enables channel zoom_chat (or set the therapist's zoom_jid)" in found


def test_zoom_chat_needs_the_api_only_when_the_jid_must_be_looked_up():
    assert problems(["zoom_chat"], server={"public_url": "https://c"}, zoom=ZOOM, therapists=[
        {"id": "t1", "name": "A", "api_token": TOKEN_A, "zoom_jid": "a@xmpp.zoom.us", "channels": ["zoom_chat"]}
    ]) == []
    assert problems(["zoom_chat"], server={"public_url": "https://c"}, zoom={**ZOOM, "client_id": "i", "client_secret": APP_SECRET}) == []


def test_teams_activity_needs_the_app_and_the_therapists_entra_id_and_links_need_public_url():
    found = problems(["dashboard", "teams_activity"])
    assert "[teams] tenant_id is missing: [[therapists]] #1 (t1) enables channel teams_activity" in found
    assert "[[therapists]] #1 (t1) teams_user_id is missing: channel teams_activity needs it" in found
    assert any(p.startswith("[server] public_url is missing") for p in found)
    assert problems(["teams_activity"], teams=TEAMS, server={"public_url": "https://c"}) == [
        "[[therapists]] #1 (t1) teams_user_id is missing: channel teams_activity needs it"
    ]


@pytest.mark.parametrize("channels", [["dashboard"], []])
def test_the_dashboard_alone_needs_nothing(channels):
    assert problems(channels) == []


def test_prompt_channels_name_known_channels_the_therapist_has_enabled():
    raw = settings_dict("sqlite+aiosqlite:///x.db")
    raw["therapists"][0]["prompt_channels"] = ["dashboard", "zoom_chat", "pager"]
    with pytest.raises(SettingsError) as err:
        parse_settings(raw, {})
    assert err.value.problems == [
        "[[therapists]] #1 (t1) prompt_channels: 'pager' is not one of dashboard, zoom_chat, teams_activity",
        "[[therapists]] #1 (t1) prompt_channels: 'zoom_chat' is not in the therapist's channels",
    ]
    settings = parse_settings(settings_dict("sqlite+aiosqlite:///x.db"), {})
    assert settings.therapists[0].prompt_channels == ("dashboard",)


def test_the_camera_off_minimum_is_a_whole_number_of_seconds_defaulting_to_20():
    assert parse_settings(settings_dict("sqlite+aiosqlite:///x.db"), {}).prompts.camera_off_min_seconds == 20
    assert parse_settings(settings_dict("sqlite+aiosqlite:///x.db", prompts={"camera_off_min_seconds": 45}), {}).prompts.camera_off_min_seconds == 45
    for bad, problem in ((-1, "must be zero or more"), ("soon", "must be a whole number")):
        with pytest.raises(SettingsError) as err:
            parse_settings(settings_dict("sqlite+aiosqlite:///x.db", prompts={"camera_off_min_seconds": bad}), {})
        assert any(p.startswith("[prompts] camera_off_min_seconds") and problem in p for p in err.value.problems)
