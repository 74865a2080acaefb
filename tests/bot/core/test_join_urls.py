"""A Teams meeting's key: the same for every spelling of its join URL, different for another meeting."""
from __future__ import annotations

from bot.core.join_urls import is_join_url, join_url_key

THREAD = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_ZmYwZTEyYjct%40thread.v2/0?context=%7b%22Tid%22%3a%22909c%22%7d"


def test_the_key_ignores_escape_case_the_context_and_a_trailing_slash():
    key = join_url_key(THREAD)
    assert key == join_url_key(THREAD.replace("%3a", "%3A").replace("%40", "%40"))
    assert key == join_url_key("https://teams.microsoft.com/l/meetup-join/19:meeting_ZmYwZTEyYjct@thread.v2/0")
    assert key == join_url_key("  " + THREAD + "  ")
    assert key != join_url_key(THREAD.replace("ZmYwZTEyYjct", "OtherMeeting"))


def test_a_url_encoded_twice_or_with_another_host_case_has_the_same_key():
    # As inside a subscription's resource (`joinWebUrl='...'`), where the whole URL is encoded once more.
    assert join_url_key(THREAD) == join_url_key("https://TEAMS.microsoft.com/l/meetup-join/19%253ameeting_ZmYwZTEyYjct%2540thread.v2/0/")


def test_the_short_form_is_keyed_by_its_meeting_id_not_its_passcode():
    assert join_url_key("https://teams.microsoft.com/meet/2634567890123?p=AbCd") == join_url_key(
        "https://teams.microsoft.com/meet/2634567890123?p=EfGh"
    )
    assert join_url_key("https://teams.microsoft.com/meet/1?p=a") != join_url_key("https://teams.microsoft.com/meet/2?p=a")


def test_the_key_is_short_and_says_nothing_of_the_url():
    key = join_url_key(THREAD)
    assert len(key) <= 64 and "meeting" not in key and key.startswith("j")


def test_only_https_urls_with_a_path_are_join_urls():
    assert is_join_url(THREAD)
    assert not is_join_url("http://teams.microsoft.com/l/meetup-join/x") and not is_join_url("https://teams.microsoft.com")
