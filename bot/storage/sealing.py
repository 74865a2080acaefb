"""Encrypt the therapist's words at rest with Fernet (AES-128-CBC and HMAC-SHA256): the first notes key seals, every one opens."""
from __future__ import annotations

from typing import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

UNREADABLE_NOTE = "[note unreadable with the configured keys]"
HOW_TO_MAKE_A_KEY = (
    "make one with `companion new-key` (or a starter config with fresh keys: `companion init --config FILE`) "
    "and set [privacy] notes_keys, notes_key_file or COMPANION_PRIVACY_NOTES_KEY"
)


class KeyProblem(Exception):
    """The configured keys cannot serve this database; the message says what to do, and never quotes a key."""


class Unreadable(Exception):
    """A stored value that none of the configured notes keys opens (or that was never sealed)."""


class NotesCipher:
    """Seal text under the current (first) notes key; open what any configured key sealed."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise KeyProblem(f"no notes key is configured: {HOW_TO_MAKE_A_KEY}")
        try:
            fernets = [Fernet(key.encode()) for key in keys]
        except (ValueError, TypeError):
            raise KeyProblem(f"a notes key is not 32 bytes in url-safe base64: {HOW_TO_MAKE_A_KEY}") from None
        self._current = fernets[0]
        self._any = MultiFernet(fernets)
        self.count = len(fernets)

    def seal(self, text: str) -> str:
        """Return `text` encrypted under the current key (a token of url-safe ASCII)."""
        return self._any.encrypt(text.encode("utf-8", "surrogatepass")).decode("ascii")

    def open(self, token: str) -> str:
        """Return the text a token seals; raise Unreadable if no configured key opens it."""
        try:
            return self._any.decrypt(token.encode("ascii")).decode("utf-8", "surrogatepass")
        except (InvalidToken, UnicodeError, AttributeError, TypeError):
            raise Unreadable from None

    def is_current(self, token: str) -> bool:
        """Return whether the current key already seals `token` (rotating it again would change nothing)."""
        try:
            self._current.decrypt(token.encode("ascii"))
            return True
        except (InvalidToken, UnicodeError, AttributeError, TypeError):
            return False

    def rotated(self, token: str) -> str:
        """Return the same text sealed under the current key; raise Unreadable if no configured key opens it."""
        try:
            return self._any.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError, AttributeError, TypeError):
            raise Unreadable from None
