"""Channel messages: short, pseudonymous, scrubbed of client names and emails, with a private link."""
from __future__ import annotations

from bot.config.settings_file import parse_settings
from bot.core.appointments import appointment_id_for
from bot.core.digests import name_digest
from bot.core.message import MAX_TEXT, compose, names_pattern, private_words, scrub
from tests.conftest import DATA_KEY, settings_dict


def test_the_client_appears_by_code_and_the_link_goes_to_the_session():
    message = compose(7, "client_video_off", "s1", "The client's video has been off for 1 min.", "C-17", "https://c.example/", [])
    assert (message.title, message.text, message.url) == (
        "Client's video is off · C-17",
        "The client's video has been off for 1 min.",
        "https://c.example/sessions/s1",
    )


def test_a_checklist_reminder_before_the_call_links_to_its_appointments_checklist():
    key = "checklist_reminder:zoom:85746065432:20261120T100000"
    url = compose(1, "checklist_reminder", None, "Checklist", None, "https://c.example", [], key).url
    assert url == f"https://c.example/appointments/{appointment_id_for(key)}/checklist"


def test_checklist_reminders_link_to_the_checklist_and_sessionless_notices_to_the_start_page():
    assert compose(1, "checklist_reminder", "s1", "Checklist", None, "https://c.example", []).url == "https://c.example/sessions/s1/checklist"
    assert compose(1, "summary_ready", None, "Ready", None, "https://c.example", []).url == "https://c.example/"


def test_names_and_emails_are_replaced_and_long_text_is_cut_to_one_short_line():
    raw = settings_dict("sqlite+aiosqlite:///x.db", clients=[
        {"code": "C-17", "therapist": "t1", "display_names": ["Sam Client"], "emails": ["sam@example.net"]},
        {"code": "C-18", "therapist": "t2", "display_names": ["Other Person"]},
    ])
    words = private_words(parse_settings(raw, {}), "t1")
    assert words == ["Sam Client", "sam@example.net"]
    text = "SAM CLIENT wrote from Sam@Example.net and x.y@z.org\nsecond line with note text"
    assert compose(1, "note_prompt", "s1", text, None, "https://c", words).text == "the client wrote from the client and the client…"
    reminder = "Session with C-17 at 14:50 GMT. Pre-call checklist:\n- Check the room\n- Phone on silent"
    assert compose(1, "checklist_reminder", None, reminder, None, "https://c", words).text == "Session with C-17 at 14:50 GMT. Pre-call checklist…"
    long = compose(1, "framing_changed", "s1", "word " * 100, "C-17", "https://c", words).text
    assert len(long) == MAX_TEXT and long.endswith("…")


def test_a_therapists_names_are_one_pattern_built_once_the_longest_name_winning():
    names = tuple(f"Client Number {n}" for n in range(600))  # more patterns than the re module keeps compiled
    assert names_pattern(names) is names_pattern(names) and names_pattern(("", " ")) is None
    text = "client number 599 and Client Number 5 met CLIENT NUMBER 59."
    assert scrub(text, names, "C-1") == "C-1 and C-1 met C-1."


def test_names_kept_only_as_digests_are_found_and_replaced():
    digests = frozenset({name_digest("Sam Client", DATA_KEY), name_digest("Jo", DATA_KEY)})
    text = "Sam   client (and jo) joined; Joanne did not"
    assert compose(1, "third_party_joined", "s1", text, "C-21", "https://c", [], "", digests, DATA_KEY).text == "C-21 (and C-21) joined; Joanne did not"
