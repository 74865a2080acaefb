"""Which text every database the service runs on can hold."""
from __future__ import annotations


def storable(text: str) -> bool:
    """Return whether every database the service runs on can hold `text`: no NUL, no lone surrogate."""
    if text.isascii():
        return "\x00" not in text
    return "\x00" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text)
