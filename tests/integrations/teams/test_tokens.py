"""The OpenID token verifier against fake Entra on loopback: signature, audience, issuer, lifetime, key rotation."""
from __future__ import annotations

import time

import aiohttp
import jwt
import pytest

from integrations.teams.tokens import KeysUnavailable, OpenIdTokens, TokenError
from tests.fakes.entra import CLIENT_ID, TENANT, FakeEntra, signing_key


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def entra():
    fake = FakeEntra()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def verifier(entra, clock):
    async with aiohttp.ClientSession() as http:
        url = f"{entra.authority_host}/{TENANT}/v2.0/.well-known/openid-configuration"
        yield OpenIdTokens(http, url, CLIENT_ID, {entra.issuer}, clock)


async def test_a_good_token_verifies_and_the_keys_are_fetched_once(entra, verifier):
    claims = await verifier.verify(entra.mint())
    assert claims["aud"] == CLIENT_ID
    await verifier.verify(entra.mint())
    assert (entra.hits["discovery"], entra.hits["keys"]) == (1, 1)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "another audience"),
        ({"iss": "https://login.example/evil/v2.0"}, "another issuer"),
        ({"lifetime": -400}, "expired"),
        ({"nbf": int(time.time()) + 3600, "iat": None}, "not valid yet"),
        ({"exp": None}, "malformed"),
    ],
    ids=["foreign-audience", "foreign-issuer", "expired", "future", "no-expiry"],
)
async def test_a_token_failing_a_check_is_refused(entra, verifier, claims, reason):
    with pytest.raises(TokenError, match=reason):
        await verifier.verify(entra.mint(**claims))


async def test_expiry_allows_a_bounded_clock_skew(entra, verifier, clock):
    token = entra.mint(lifetime=60)
    clock.now += 60 + 299
    await verifier.verify(token)
    clock.now += 2
    with pytest.raises(TokenError, match="expired"):
        await verifier.verify(token)


async def test_a_token_signed_by_an_unpublished_key_or_tampered_is_refused(entra, verifier):
    with pytest.raises(TokenError, match="unknown key"):
        await verifier.verify(entra.mint(kid="attacker"))
    head, body, signature = entra.mint().split(".")
    other_body = entra.mint(aud=CLIENT_ID, tid="other").split(".")[1]
    with pytest.raises(TokenError, match="signature"):
        await verifier.verify(f"{head}.{other_body}.{signature}")
    forged = jwt.encode({"aud": CLIENT_ID, "iss": entra.issuer, "exp": time.time() + 60}, signing_key("attacker"), algorithm="RS256", headers={"kid": "key-1"})
    with pytest.raises(TokenError, match="signature"):
        await verifier.verify(forged)


@pytest.mark.parametrize("token", ["", "x" * 20_000, "not.a.jwt", jwt.encode({"aud": CLIENT_ID}, "a-shared-secret-of-thirty-two-bytes!", algorithm="HS256", headers={"kid": "key-1"})])
async def test_malformed_tokens_and_other_algorithms_are_refused_before_any_fetch(entra, verifier, token):
    with pytest.raises(TokenError):
        await verifier.verify(token)
    assert entra.hits["keys"] == 0


async def test_a_rotated_key_is_fetched_when_it_appears_but_unknown_keys_refetch_at_most_every_five_minutes(entra, verifier, clock):
    await verifier.verify(entra.mint())
    entra.published = ["key-1", "key-2"]
    clock.now += 301
    await verifier.verify(entra.mint(kid="key-2"))
    assert entra.hits["keys"] == 2
    for _ in range(5):
        with pytest.raises(TokenError, match="unknown key"):
            await verifier.verify(entra.mint(kid="key-3"))
    assert entra.hits["keys"] == 2


async def test_keys_that_cannot_be_fetched_are_reported_as_unavailable_and_fetched_again_later(entra, verifier):
    entra.fail("discovery", status=503)
    with pytest.raises(KeysUnavailable):
        await verifier.verify(entra.mint())
    await verifier.verify(entra.mint())


@pytest.mark.parametrize("token", ["é.é.é", "eyJ\udc80.x.y", "a" * 20000])
async def test_a_token_that_cannot_be_a_jwt_is_refused_not_a_failure(verifier, token):
    with pytest.raises(TokenError, match="not a JWT"):
        await verifier.verify(token)
