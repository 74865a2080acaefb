"""Secrets and tokens that cannot be real ones are refused, naming the key and never quoting the value (bot/config/secret_values.py)."""
from __future__ import annotations

import pytest

from bot.config.settings_file import load_settings, parse_settings
from bot.core.settings import SettingsError
from tests.conftest import PRIVACY_TOML, SECRET, settings_dict

URL = "sqlite+aiosqlite:///x.db"
PLACEHOLDERS = ["...", "change-me-to-a-long-random-string", "FILL IN", "<your token>", "xxx", "your-webhook-secret-token-goes-here",
                "secret", "token", "Secret Token", "${ZOOM_WEBHOOK_SECRET_TOKEN}", "x" * 40, "8f3a2c..."]


def problems(raw, environ=None) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, environ or {})
    return caught.value.problems


def with_token(token) -> dict:
    raw = settings_dict(URL)
    raw["therapists"][0]["api_token"] = token
    return raw


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_a_placeholder_webhook_secret_or_api_token_is_refused_naming_the_key(value):
    found = problems(settings_dict(URL, zoom={"webhook_secret_token": value}))
    assert found == ["[zoom] webhook_secret_token is a placeholder, not a secret: put in the Secret Token of your Zoom app's event subscription"]
    (token,) = problems(with_token(value))
    assert token.startswith("[[therapists]] #1 (t1) api_token is a placeholder, not a secret") and "companion new-key" in token


@pytest.mark.parametrize("section, key", [("zoom", "client_secret"), ("zoom", "rtms_client_secret"), ("zoom", "chatbot_client_secret"),
                                          ("teams", "client_secret"), ("teams", "encryption_key_password")])
def test_every_other_secret_is_checked_too(section, key):
    (found,) = problems(settings_dict(URL, **{section: {key: "change-me"}}))
    assert found.startswith(f"[{section}] {key} is a placeholder")


def test_a_short_token_is_refused_naming_the_key_and_its_length_never_its_value():
    short = "Kd8Fs2Mw6Qz1Xh4Rb7Tn0Lp3Vc5Jy9G"  # 31 characters
    (found,) = problems(with_token(short))
    assert found.startswith("[[therapists]] #1 (t1) api_token is 31 characters long, too short for a secret (at least 32)")
    assert short not in found
    assert parse_settings(with_token(short + "W"), {}).therapists[0].api_token == short + "W"
    (found,) = problems(settings_dict(URL, teams={"client_secret": short}))
    assert found.startswith("[teams] client_secret is 31 characters long")


def test_the_webhook_secret_may_be_as_short_as_zoom_makes_it_and_no_shorter():
    zoom_made = "EXR7JH5pR3S2I9Rdofqf1A"  # Zoom's Secret Token: 16 random bytes in base64, 22 characters
    assert parse_settings(settings_dict(URL, zoom={"webhook_secret_token": zoom_made}), {}).zoom.webhook_secret_token == zoom_made
    (found,) = problems(settings_dict(URL, zoom={"webhook_secret_token": zoom_made[:-1]}))
    assert found.startswith("[zoom] webhook_secret_token is 21 characters long, too short for a secret (at least 22)")


def test_a_token_that_is_not_a_string_is_refused_naming_the_key(tmp_path):
    config = tmp_path / "companion.toml"
    config.write_text(
        f'[storage]\nurl = "{URL}"\n[zoom]\nwebhook_secret_token = 12345\n{PRIVACY_TOML}'
        '[[therapists]]\nid = "t1"\nname = "A"\napi_token = 12\n',
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(config, {})
    assert caught.value.problems == [
        "[zoom] webhook_secret_token must be a string in quotes, not int: the Secret Token of your Zoom app's event subscription",
        "[[therapists]] #1 (t1) api_token must be a string in quotes, not int: a long random token (`companion new-key` prints a random one)",
    ]


def test_a_secret_padded_with_spaces_is_refused():
    (found,) = problems(settings_dict(URL, zoom={"webhook_secret_token": f" {SECRET}"}))
    assert found == "[zoom] webhook_secret_token has spaces at its start or end: copy the secret alone"
