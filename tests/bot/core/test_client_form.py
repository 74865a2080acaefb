"""A client profile as the therapist writes it: checked against the checklist's flags, emails and names kept as digests."""
from __future__ import annotations

from bot.config.checklist_file import load_checklist
from bot.core.client_form import MAX_ITEMS, client_from_form, vocabulary
from bot.core.digests import email_digest, name_digest
from bot.core.join_urls import join_url_key
from bot.core.settings import DATABASE
from tests.conftest import DATA_KEY

WORDS = vocabulary(load_checklist())


def test_the_vocabulary_is_the_modes_and_the_flags_the_checklist_asks_about():
    assert WORDS.modes == ("online", "face_to_face")
    assert {"minor_attracted", "animals", "stranger_assault"} <= set(WORDS.flags)


def test_a_profile_keeps_digests_of_emails_and_names_never_the_words():
    form = {"code": " c-21 ", "mode": "face_to_face", "flags": ["animals"], "meeting_ids": ["123 ", "123", "456"],
            "emails": ["Sam@Example.net"], "display_names": ["Sam  Client"]}
    profile = client_from_form(form, WORDS, "t1", DATA_KEY)
    assert (profile.code, profile.therapist, profile.mode, profile.flags, profile.source) == ("C-21", "t1", "face_to_face", ("animals",), DATABASE)
    assert profile.meeting_ids == ("123", "456")
    assert profile.email_digests == (email_digest("sam@example.net", DATA_KEY),) and profile.name_digests == (name_digest("sam client", DATA_KEY),)
    assert email_digest("sam@example.net", "another key") not in profile.email_digests  # keyed: a list of emails alone matches nothing
    assert profile.emails == () and profile.display_names == ()
    assert "Sam" not in repr(profile)


def test_a_page_form_may_give_lists_as_lines_of_text():
    profile = client_from_form({"code": "C-3", "meeting_ids": "111\n222, 333", "flags": "animals"}, WORDS, "t1", DATA_KEY)
    assert profile.meeting_ids == ("111", "222", "333") and profile.flags == ("animals",) and profile.mode == "online"


def test_a_teams_join_link_is_kept_as_the_meeting_key_that_reminders_and_sessions_use():
    link = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_V2Vla2x5%40thread.v2/0?context=%7b%22Tid%22%3a%22t%22%7d"
    profile = client_from_form({"code": "C-4", "meeting_ids": f"{link}\n{link.replace('%3a', '%3A')}\n555"}, WORDS, "t1", DATA_KEY)
    assert profile.meeting_ids == (join_url_key(link), "555")  # one key for both spellings; the link itself is not kept
    assert "teams.microsoft.com" not in repr(profile)
    problems = client_from_form({"code": "C-4", "meeting_ids": ["x" * 65]}, WORDS, "t1", DATA_KEY)
    assert problems == ["each meeting id must be at most 64 characters, or a Teams join link"]


def test_every_problem_is_named_with_a_guess_for_a_misspelt_flag():
    problems = client_from_form({"code": "Sam Smith", "mode": "bus", "flags": ["animls", "zzz"], "colour": 1}, WORDS, "t1", DATA_KEY)
    assert any("code must be" in p for p in problems)
    assert any("mode must be one of online, face_to_face" in p for p in problems)
    assert "unknown flag 'animls' (did you mean 'animals'?)" in problems
    assert any(p.startswith("unknown flag 'zzz'") for p in problems)
    assert any("'colour' is not a field" in p for p in problems)


def test_lists_and_strings_are_bounded_and_storable():
    assert client_from_form({"code": "C-1", "meeting_ids": [str(n) for n in range(MAX_ITEMS + 1)]}, WORDS, "t1", DATA_KEY)
    assert client_from_form({"code": "C-1", "meeting_ids": ["9" * 65]}, WORDS, "t1", DATA_KEY)
    assert client_from_form({"code": "C-1", "display_names": ["a\x00b"]}, WORDS, "t1", DATA_KEY)
    assert client_from_form({"code": "C-1", "emails": ["not-an-email"]}, WORDS, "t1", DATA_KEY)
    assert client_from_form({"code": "C-1", "flags": [1]}, WORDS, "t1", DATA_KEY)
    assert client_from_form({"code": "C-1", "meeting_ids": ["1 2"]}, WORDS, "t1", DATA_KEY)
    assert client_from_form({"code": 17}, WORDS, "t1", DATA_KEY)


def test_an_edit_keeps_what_it_leaves_out_and_cannot_change_the_code():
    current = client_from_form({"code": "C-4", "flags": ["animals"], "meeting_ids": ["1"], "emails": ["a@b.c"]}, WORDS, "t1", DATA_KEY)
    edited = client_from_form({"mode": "face_to_face"}, WORDS, "t1", DATA_KEY, current)
    assert (edited.code, edited.mode, edited.flags, edited.meeting_ids, edited.email_digests) == (
        "C-4", "face_to_face", ("animals",), ("1",), current.email_digests)
    assert client_from_form({"emails": []}, WORDS, "t1", DATA_KEY, current).email_digests == ()
    assert any("cannot change" in p for p in client_from_form({"code": "C-5"}, WORDS, "t1", DATA_KEY, current))
