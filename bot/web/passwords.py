"""Hash and check the therapists' page passwords with Argon2id; checking costs the same for unknown accounts."""
from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # hashing a megabyte of "password" is a cheap way to tie up a core
_HASHER = PasswordHasher()  # Argon2id with the library's (RFC 9106 low-memory) parameters


@cache
def _nobody() -> str:
    """Return the hash checked when the account is unknown or has no password, so the answer takes as long.

    Made at the first sign-in, not at import: it costs a hash's time, and every start imports this module.
    """
    return _HASHER.hash("no account has this password; it only makes a wrong guess cost the same")


def password_problem(password: str) -> str | None:
    """Return why a new password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"a password needs at least {MIN_PASSWORD_CHARS} characters"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"a password may have at most {MAX_PASSWORD_CHARS} characters"
    if "\x00" in password or any("\ud800" <= ch <= "\udfff" for ch in password):
        return "a password cannot hold a NUL character or bytes that are not UTF-8"
    return None


def hash_password(password: str) -> str:
    """Return the Argon2id hash to store for a password (salted; the password is not recoverable)."""
    return _HASHER.hash(password)


def _matches(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _nobody(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def password_matches(password_hash: str | None, password: str) -> bool:
    """Return whether `password` is the one hashed; off the event loop (a check takes tens of milliseconds)."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    return await asyncio.get_running_loop().run_in_executor(None, _matches, password_hash, password)
