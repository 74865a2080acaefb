"""The pages' settings: a session key that is 32 bytes of url-safe base64, and frame ancestors that are CSP sources."""
from __future__ import annotations

import pytest

from bot.config.settings_file import parse_settings
from bot.core.settings import SettingsError
from tests.conftest import settings_dict


@pytest.mark.parametrize("key", ["short", "x" * 44, "ü" * 44, "dGVzdA=="])
def test_a_session_key_that_is_not_32_bytes_of_base64_is_named(key):
    with pytest.raises(SettingsError) as err:
        parse_settings(settings_dict("sqlite+aiosqlite:///x.db", server={"session_key": key}), {})
    assert any("session_key" in p and "new-session-key" in p for p in err.value.problems)


def test_the_session_key_may_come_from_the_environment():
    key = "dGVzdHMtb25seS1zZXNzaW9uLWtleS0zMi1ieXRlcyE="
    settings = parse_settings(settings_dict("sqlite+aiosqlite:///x.db", server={"session_key": ""}), {"COMPANION_SERVER_SESSION_KEY": key})
    assert settings.server.session_key == key


@pytest.mark.parametrize("sources", ["'self'; script-src *", "'self'\nx", "<script>"])
def test_frame_ancestors_that_would_break_the_policy_are_refused(sources):
    with pytest.raises(SettingsError, match="frame_ancestors"):
        parse_settings(settings_dict("sqlite+aiosqlite:///x.db", server={"frame_ancestors": sources}), {})


@pytest.mark.parametrize("url", ["companion.example.org", "ftp://companion.example.org", "https://", "//companion.example.org",
                                 "https://companion example.org", "https://companion.example.org:port", "https://[::1"])
def test_a_public_url_that_is_not_an_absolute_web_address_is_refused(url):
    with pytest.raises(SettingsError) as err:
        parse_settings(settings_dict("sqlite+aiosqlite:///x.db", server={"public_url": url}), {})
    assert err.value.problems == ["[server] public_url must be an absolute http:// or https:// URL with a host, such as https://companion.example.org"]


@pytest.mark.parametrize("url", ["https://companion.example.org", "http://127.0.0.1:8080", "https://example.org/companion/"])
def test_a_public_url_with_a_scheme_and_host_is_kept(url):
    assert parse_settings(settings_dict("sqlite+aiosqlite:///x.db", server={"public_url": url}), {}).server.public_url == url
