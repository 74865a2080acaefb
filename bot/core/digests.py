"""Digest a client's email or display name for matching: the one place that says how, so no word need be kept."""
from __future__ import annotations

import hashlib

# The privacy issue turns these into keyed hashes (HMAC with `[privacy] data_key`): only this module changes.


def normal_name(name: str) -> str:
    """Return a display name as matching compares it: case and spacing do not count."""
    return " ".join(name.split()).casefold()


def email_digest(email: str) -> str:
    """Return the digest of an email address (the same one a platform adapter puts on a participant)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def name_digest(name: str) -> str:
    """Return the digest of a display name."""
    return hashlib.sha256(b"name:" + normal_name(name).encode("utf-8", "surrogatepass")).hexdigest()
