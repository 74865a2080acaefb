"""Word a notice as the short private message a channel carries: pseudonym only, no names, a link for detail."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from .appointments import appointment_id_for
from .clients import name_digests
from .digests import name_digest
from .due_work import CHECKLIST_REMINDER
from .settings import Settings

MAX_TEXT = 150  # Teams cuts its preview here; the other channels stay as short
MAX_NAME_WORDS = 6  # the longest display name, in words, that a digest is looked for in a text
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
CHECKLIST_KINDS = frozenset({"checklist_reminder", "start_reminder"})
TITLES = {
    "checklist_reminder": "Checklist before your session",
    "start_reminder": "Your session has started",
    "client_video_off": "Client's video is off",
    "third_party_joined": "Someone else joined",
    "recording_started": "Recording started",
    "client_screen_share": "Client is sharing their screen",
    "framing_changed": "Framing changed",
    "note_prompt": "A note may be worth making",
    "summary_ready": "Session summary ready",
    "camera_tracking_off": "Camera tracking is off",
}


@dataclass(frozen=True)
class AlertMessage:
    """What reaches the therapist on a channel: a title, one short line, and a link to their private page."""

    notice_id: int
    kind: str
    title: str
    text: str
    url: str


def private_words(settings: Settings, therapist_id: str) -> list[str]:
    """Return the names and emails of a therapist's clients that the settings file gives, which no message may carry."""
    own = [c for c in settings.clients if c.therapist == therapist_id]
    return [w for c in own for w in (*c.display_names, *c.emails) if w.strip()]


def private_name_digests(settings: Settings, therapist_id: str) -> frozenset[str]:
    """Return the keyed digests of every display name of a therapist's clients, from either source."""
    return frozenset(name_digests((c for c in settings.clients if c.therapist == therapist_id), settings.privacy.data_key))


def _named_spans(text: str, digests: frozenset[str], key: str) -> list[tuple[int, int]]:
    """Return where runs of up to MAX_NAME_WORDS words in `text` have a digest in `digests`, longest first, apart."""
    words = [(m.start(), m.end()) for m in re.finditer(r"[^\s.,;:!?()\"]+", text)]
    spans: list[tuple[int, int]] = []
    for size in range(min(MAX_NAME_WORDS, len(words)), 0, -1):
        for first in range(len(words) - size + 1):
            start, end = words[first][0], words[first + size - 1][1]
            if all(end <= s or start >= e for s, e in spans) and name_digest(text[start:end], key) in digests:
                spans.append((start, end))
    return sorted(spans, reverse=True)


@lru_cache(maxsize=64)
def names_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """Return one pattern matching any of `words`, the longest first where they overlap (None: no words), built once a set."""
    stripped = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, stripped)), re.IGNORECASE) if stripped else None


def scrub(text: str, words: Iterable[str], client: str, digests: frozenset[str] = frozenset(), key: str = "") -> str:
    """Replace every client name, email and email-like text in `text` with `client`.

    Names kept only as digests (keyed with `key`) are found by digesting each short run of words in the text.
    """
    if (names := names_pattern(tuple(words))) is not None:  # one pass: a re.sub per name cost more than the rest of a message
        text = names.sub(lambda _: client, text)
    for start, end in _named_spans(text, digests, key) if digests else ():
        text = text[:start] + client + text[end:]
    return EMAIL.sub(client, text)


def link(public_url: str, session_id: str | None, kind: str, key: str = "") -> str:
    """Return the therapist's private page for a notice: the session, its checklist, or the appointment's."""
    base = public_url.rstrip("/")
    if session_id is None and kind == CHECKLIST_REMINDER and key:
        return f"{base}/appointments/{appointment_id_for(key)}/checklist"
    if session_id is None:
        return base + "/"
    return f"{base}/sessions/{session_id}" + ("/checklist" if kind in CHECKLIST_KINDS else "")


def compose(
    notice_id: int,
    kind: str,
    session_id: str | None,
    message: str,
    client_code: str | None,
    public_url: str,
    words: Iterable[str],
    key: str = "",
    digests: frozenset[str] = frozenset(),
    data_key: str = "",
) -> AlertMessage:
    """Return the channel message for a notice; the client appears by code or as "the client"."""
    client = client_code or "the client"
    lines = message.strip().splitlines() or [""]
    first = lines[0].rstrip(":") + "…" if len(lines) > 1 else lines[0]  # the rest (a checklist) is behind the link
    text = scrub(first, words, client, digests, data_key)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1].rstrip() + "…"
    title = TITLES.get(kind, "Session Companion")
    if client_code:
        title = f"{title} · {client_code}"
    return AlertMessage(notice_id, kind, title, text, link(public_url, session_id, kind, key))
