"""Digest a client's email or display name for matching: the one place that says how, so no word need be kept.

A digest is keyed: HMAC-SHA256 under `[privacy] data_key`, so a stolen database cannot be matched
against a list of emails or names. What the key signs is the unsalted SHA-256 the previous version
kept, so those old digests are re-keyed exactly (bot/storage/previous_version.py), without the words.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac

from .events import ParticipantRef


def normal_name(name: str) -> str:
    """Return a display name as matching compares it: case and spacing do not count."""
    return " ".join(name.split()).casefold()


def plain_email_digest(email: str) -> str:
    """Return the unsalted SHA-256 of an email (what the previous version kept): only ever the input of `keyed`."""
    return hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()


def plain_name_digest(name: str) -> str:
    """Return the unsalted SHA-256 of a display name (what the previous version kept): only ever the input of `keyed`."""
    return hashlib.sha256(b"name:" + normal_name(name).encode("utf-8", "surrogatepass")).hexdigest()


def keyed(plain: str, key: str) -> str:
    """Return the keyed digest (HMAC-SHA256 under the data key) of an unsalted digest or any other text."""
    return hmac.new(key.encode(), plain.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def email_digest(email: str, key: str) -> str:
    """Return the keyed digest of an email address."""
    return keyed(plain_email_digest(email), key)


def name_digest(name: str, key: str) -> str:
    """Return the keyed digest of a display name."""
    return keyed(plain_name_digest(name), key)


def digested(ref: ParticipantRef, key: str, keep_name: bool) -> ParticipantRef:
    """Return what may be kept of a participant: keyed digests of their name and email, the name itself only if `keep_name`."""
    return dataclasses.replace(
        ref,
        name=ref.name if keep_name else "",
        email="",
        name_digest=ref.name_digest or (name_digest(ref.name, key) if ref.name else ""),
        email_hash=ref.email_hash or (email_digest(ref.email, key) if ref.email.strip() else ""),
    )
