"""Graph's checks at the edge: the validationToken handshake, and the validation tokens of a rich notification batch."""
from __future__ import annotations

from typing import Any

from .const import GRAPH_APP_ID, MAX_VALIDATION_TOKEN_CHARS
from .tokens import OpenIdTokens, TokenError

MAX_TOKENS = 20  # one per app and tenant in a batch; Graph sends one or two


class HandshakeError(ValueError):
    """The handshake's token is not one the service will echo back."""


def handshake_answer(token: str) -> str:
    """Return the text that answers Graph's `validationToken` handshake: the token, unchanged, if it is sane."""
    if not token or len(token) > MAX_VALIDATION_TOKEN_CHARS or not token.isprintable():
        raise HandshakeError("validationToken must be 1 to 1024 printable characters")
    return token


async def check_validation_tokens(tokens: OpenIdTokens, listed: Any) -> None:
    """Raise TokenError unless every token of the batch is Graph's, for us, now (one bad token refuses them all)."""
    if not isinstance(listed, list) or not listed or len(listed) > MAX_TOKENS:
        raise TokenError("validationTokens are missing")
    for token in listed:
        claims = await tokens.verify(token)
        if GRAPH_APP_ID not in (claims.get("azp"), claims.get("appid")):
            raise TokenError("the token was not issued to Microsoft Graph")
