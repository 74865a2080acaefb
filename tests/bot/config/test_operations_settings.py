"""The operator's keys for running the service: trusted proxies, the readiness threshold, the metrics token, the log format."""
from __future__ import annotations

import pytest

from bot.config.settings_file import parse_settings
from bot.core.settings import SettingsError
from tests.conftest import settings_dict

URL = "sqlite+aiosqlite:///x.db"
GOOD_TOKEN = "metrics-token-of-at-least-32-characters"


def test_the_defaults_trust_no_proxy_open_the_metrics_and_log_text():
    settings = parse_settings(settings_dict(URL), {})
    assert settings.server.trusted_proxies == ()
    assert settings.server.ready_max_pending_delivery_seconds == 300
    assert settings.metrics.token == ""
    assert settings.logging.format == "text"


def test_trusted_proxies_are_addresses_or_networks_from_the_file_or_the_environment():
    settings = parse_settings(settings_dict(URL, server={"trusted_proxies": ["127.0.0.1", "10.0.0.0/8", "::1"]}), {})
    assert settings.server.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    settings = parse_settings(settings_dict(URL), {"COMPANION_SERVER_TRUSTED_PROXIES": "192.0.2.7, 2001:db8::/32"})
    assert settings.server.trusted_proxies == ("192.0.2.7/32", "2001:db8::/32")


def test_a_trusted_proxy_that_is_not_an_address_or_network_is_named_by_its_position():
    raw = settings_dict(URL, server={"trusted_proxies": ["10.0.0.1/8", "proxy.example.org", 7]})
    with pytest.raises(SettingsError) as err:
        parse_settings(raw, {})
    assert [p for p in err.value.problems if "trusted_proxies" in p] == [
        f"[server] trusted_proxies: entry {n} ({value!r}) is not an IP address or network such as 10.0.0.0/8"
        for n, value in ((1, "10.0.0.1/8"), (2, "proxy.example.org"), (3, 7))
    ]
    with pytest.raises(SettingsError, match=r"\[server\] trusted_proxies must be a list"):
        parse_settings(settings_dict(URL, server={"trusted_proxies": {"a": 1}}), {})


@pytest.mark.parametrize("seconds", [0, -5, "soon"])
def test_the_readiness_threshold_is_a_positive_number_of_seconds(seconds):
    with pytest.raises(SettingsError, match="ready_max_pending_delivery_seconds"):
        parse_settings(settings_dict(URL, server={"ready_max_pending_delivery_seconds": seconds}), {})


def test_a_metrics_token_shorter_than_32_characters_is_refused_from_the_file_or_the_environment():
    with pytest.raises(SettingsError, match=r"\[metrics\] token is 31 characters long, too short for a secret \(at least 32\)"):
        parse_settings(settings_dict(URL, metrics={"token": GOOD_TOKEN[:31]}), {})
    with pytest.raises(SettingsError, match=r"\[metrics\] token is 11 characters long, too short .*\(from COMPANION_METRICS_TOKEN\)"):
        parse_settings(settings_dict(URL), {"COMPANION_METRICS_TOKEN": "Qw3rTy9Zx1b"})
    assert parse_settings(settings_dict(URL), {"COMPANION_METRICS_TOKEN": GOOD_TOKEN}).metrics.token == GOOD_TOKEN


def test_the_log_format_is_text_or_json():
    assert parse_settings(settings_dict(URL, logging={"format": "JSON"}), {}).logging.format == "json"
    with pytest.raises(SettingsError, match=r"\[logging\] format must be one of text, json"):
        parse_settings(settings_dict(URL, logging={"format": "xml"}), {})
