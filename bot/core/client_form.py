"""Check a client profile the therapist wrote (the API's body or the page's form) against the checklist's words."""
from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .checklist import Checklist
from .digests import email_digest, name_digest
from .join_urls import is_join_url, join_url_key
from .settings import CLIENT_MODES, DATABASE, ClientProfile
from .text import storable

# A few letters and a number, such as C-17: a pseudonym anyone may see, never a name.
CODE = re.compile(r"[A-Z]{1,4}-?[0-9]{1,6}")
CODE_RULE = "code must be one to four letters and a number of up to six digits, such as C-17"
MAX_ITEMS = 20  # in each list: flags, meeting ids, emails, display names
MAX_MEETING_ID, MAX_EMAIL, MAX_NAME = 64, 254, 100
MAX_JOIN_URL = 2048  # a Teams join link, kept only as its meeting key
FIELDS = ("code", "mode", "flags", "meeting_ids", "emails", "display_names")
# An edit keeps each field left out: the form's name, and where the profile holds it.
_KEPT = {"flags": "flags", "meeting_ids": "linked_meeting_ids", "emails": "email_digests", "display_names": "name_digests"}


@dataclass(frozen=True)
class Vocabulary:
    """The words a client profile may use: the modes, and the flags the checklist's points ask about."""

    modes: tuple[str, ...]
    flags: tuple[str, ...]


def vocabulary(checklist: Checklist) -> Vocabulary:
    """Return the modes and every flag some point of `checklist` is for."""
    return Vocabulary(CLIENT_MODES, tuple(sorted({f for p in checklist.points for f in p.flags})))


def normal_code(text: Any) -> str | None:
    """Return a client code as kept (upper case), or None if it is not a code."""
    code = text.strip().upper() if isinstance(text, str) else ""
    return code if CODE.fullmatch(code) else None


def _meeting_keys(given: tuple[str, ...], problems: list[str]) -> tuple[str, ...]:
    """Return the meeting ids as profiles match them: a Teams join link becomes its meeting key (the link admits anyone)."""
    if any(len(m.split()) != 1 for m in given):
        problems.append("a meeting id holds no spaces")
    elif any(len(m) > MAX_MEETING_ID and not is_join_url(m) for m in given):
        problems.append(f"each meeting id must be at most {MAX_MEETING_ID} characters, or a Teams join link")
    return tuple(dict.fromkeys(join_url_key(m) if is_join_url(m) else m for m in given))


def _items(form: Mapping[str, Any], key: str, limit: int, problems: list[str]) -> tuple[str, ...]:
    """Return a list field, given as a list of strings or as text with one item a line (or comma)."""
    value = form.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = re.split(r"[\n,]", value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{key} must be a list of strings")
        return ()
    items = tuple(dict.fromkeys(v.strip() for v in value if v.strip()))
    if len(items) > MAX_ITEMS:
        problems.append(f"{key} may hold at most {MAX_ITEMS} items")
    elif any(len(v) > limit or not storable(v) for v in items):
        problems.append(f"each of {key} must be at most {limit} characters of text (no NUL, no lone surrogate)")
    else:
        return items
    return ()


def unknown_flags(flags: Iterable[str], known: tuple[str, ...]) -> list[str]:
    """Name every flag no checklist point asks about, with the closest one that some point does ("did you mean")."""
    problems = []
    for flag in flags:
        if flag not in known:
            near = difflib.get_close_matches(flag, known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f"; the checklist knows {', '.join(known) or 'none'}"
            problems.append(f"unknown flag {flag!r}{hint}")
    return problems


def _flags(form: Mapping[str, Any], known: tuple[str, ...], problems: list[str]) -> tuple[str, ...]:
    flags = _items(form, "flags", MAX_NAME, problems)
    problems += unknown_flags(flags, known)
    return flags


def client_from_form(
    form: Mapping[str, Any], words: Vocabulary, therapist_id: str, key: str, current: ClientProfile | None = None
) -> ClientProfile | list[str]:
    """Return the database profile the therapist described, or every problem with it.

    With `current` (an edit), a field left out keeps its value and the code cannot change. Emails
    and display names come back as digests keyed with `key` only: the words themselves go no further.
    """
    problems = [f"{str(key)[:40]!r} is not a field of a client profile" for key in sorted(set(form) - set(FIELDS), key=str)]
    code = normal_code(form.get("code")) if "code" in form or current is None else current.code
    if code is None:
        problems.append(CODE_RULE)
    elif current is not None and code != current.code:
        problems.append("a client's code cannot change: add a client with the new code instead")
    mode = form.get("mode", current.mode if current else "online")
    if mode not in words.modes:
        problems.append(f"mode must be one of {', '.join(words.modes)}")
    flags = _flags(form, words.flags, problems)
    meeting_ids = _meeting_keys(_items(form, "meeting_ids", MAX_JOIN_URL, problems), problems)
    emails = _items(form, "emails", MAX_EMAIL, problems)
    if any("@" not in e for e in emails):
        problems.append("each of emails must be an email address")
    names = _items(form, "display_names", MAX_NAME, problems)
    if problems:
        return problems
    fresh = ClientProfile(
        code=str(code), therapist=therapist_id, mode=str(mode), flags=flags, linked_meeting_ids=meeting_ids,
        email_digests=tuple(dict.fromkeys(email_digest(e, key) for e in emails)),
        name_digests=tuple(dict.fromkeys(name_digest(n, key) for n in names)), source=DATABASE,
    )
    if current is not None:  # an edit: what the therapist left out stays as it was
        fresh = dataclasses.replace(fresh, **{attr: getattr(current, attr) for key, attr in _KEPT.items() if key not in form})
    return fresh
