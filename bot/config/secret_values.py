"""Refuse a secret or token that cannot be the real one: a placeholder, not a string, padded with spaces, or too short."""
from __future__ import annotations

import re
from typing import Any

MIN_LENGTH = 32
MAKE_A_TOKEN = "`companion new-key` prints a random one"
# What an example or a template leaves where a secret goes: never a real one (a platform's secrets are random letters).
# A value made of these words alone ("secret", "Secret Token", "zoom-client-secret") is a template's.
TEMPLATE_WORDS = {
    "secret", "token", "password", "passwd", "key", "api", "webhook", "client", "app", "bot", "chatbot", "my", "the",
    "a", "here", "value", "changeme", "placeholder", "example", "todo", "none", "null", "test",
}
PLACEHOLDER = re.compile(
    r"(.)\1*"  # one character over and over: "...", "xxx", "********"
    r"|<.*>|\{.*\}|\$\{.*\}"  # a template's slot: "<your token>", "{secret}", "${ZOOM_SECRET}"
    r"|your[-_ ].*|.*(change[-_ ]?me|fill[-_ ]?in|replace[-_ ]?me|placeholder|example).*",
    re.IGNORECASE,
)


def is_placeholder(value: str) -> bool:
    """Return whether `value` is what a template holds where a secret goes, not a secret."""
    text = value.strip()
    elided = text.startswith(("...", "…")) or text.endswith(("...", "…"))  # "abc...", "...xyz": a secret shown in part
    return elided or bool(PLACEHOLDER.fullmatch(text)) or set(re.split(r"[-_ .]+", text.lower())) <= TEMPLATE_WORDS


def secret_problem(where: str, value: Any, what: str, min_length: int = MIN_LENGTH) -> str | None:
    """Say why `value` cannot be the secret `where` names (None: it can, or it is empty and so not set).

    `what` says where the real one comes from. The value itself is never quoted: only its kind and length.
    """
    if not isinstance(value, str):
        return f"{where} must be a string in quotes, not {'true or false' if isinstance(value, bool) else type(value).__name__}: {what}"
    if not value:
        return None
    if is_placeholder(value):
        return f"{where} is a placeholder, not a secret: put in {what}"
    if value != value.strip():
        return f"{where} has spaces at its start or end: copy the secret alone"
    if len(value) < min_length:
        return f"{where} is {len(value)} characters long, too short for a secret (at least {min_length}): put in {what}"
    return None

