"""Turn an online meeting's join URL into the stable, short meeting key that reminders and profiles share."""
from __future__ import annotations

import hashlib
from urllib.parse import unquote, urlsplit

KEY_PREFIX = "j"
MAX_DECODINGS = 3  # a URL may arrive percent-encoded twice (inside a subscription's resource, say)


def join_url_key(url: str) -> str:
    """Return the meeting key of a join URL: the same for every occurrence of the meeting and every spelling of its URL.

    A Teams meeting (every occurrence of a recurring one too) has one online meeting, whose join URL
    names its chat thread (`/l/meetup-join/19:meeting_...@thread.v2/0?context=...`) or, in the newer
    short form, its numeric meeting id (`/meet/<id>?p=<passcode>`). That thread or id is what stays
    the same wherever the URL is copied from (the calendar, the invitation, the settings file), while
    percent-escapes change case (or are applied twice) and the `context` or passcode query may be
    added or dropped: so the key is built from it alone. It is a digest, not the URL: it fits the
    64-character meeting id columns, can be logged, and does not let anyone join the meeting.
    """
    parts = urlsplit(url.strip())
    segments = [fully_unquoted(s) for s in parts.path.split("/") if s]
    if len(segments) >= 3 and segments[0] == "l" and segments[1] == "meetup-join":
        basis = "thread:" + segments[2]
    elif len(segments) >= 2 and segments[0] == "meet":
        basis = "meet:" + segments[1]
    else:  # a shape not known: the whole URL, with the parts that only change spelling normalised
        basis = f"url:{parts.netloc.lower()}{fully_unquoted(parts.path).rstrip('/')}?{fully_unquoted(parts.query)}"
    return KEY_PREFIX + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def fully_unquoted(text: str) -> str:
    """Return `text` with its percent-escapes undone, however many times over (up to MAX_DECODINGS)."""
    for _ in range(MAX_DECODINGS):
        text, before = unquote(text), text
        if text == before:
            break
    return text


def is_join_url(url: str) -> bool:
    """Return whether `url` looks like a meeting join URL (https, with a host and a path)."""
    parts = urlsplit(url.strip())
    return parts.scheme == "https" and bool(parts.netloc) and len(parts.path) > 1
