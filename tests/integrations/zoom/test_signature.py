"""Zoom webhook signatures: known-answer vectors computed with openssl, and every way to fail."""
from __future__ import annotations

import pytest

from integrations.zoom.signature import SignatureError, SignatureVerifier, sign

SECRET = "whsec-test-7Hq2"
BODY = b'{"event":"endpoint.url_validation","payload":{"plainToken":"Zp3kT9vQ"},"event_ts":1764669600123}'
TIMESTAMP = "1764669600"
# printf '%s' 'v0:1764669600:<BODY>' | openssl dgst -sha256 -hmac 'whsec-test-7Hq2'
EXPECTED = "v0=60c4e22a04124889aba8d345a466d8c05cce5db7b64c8b634d36c9f41e7545bf"


def verifier(now: float = 1764669600 + 12) -> SignatureVerifier:
    return SignatureVerifier(SECRET, clock=lambda: now)


def test_sign_matches_the_openssl_known_answer():
    assert sign(SECRET, TIMESTAMP, BODY) == EXPECTED


def test_a_correct_signature_within_the_skew_verifies():
    verifier().verify({"x-zm-request-timestamp": TIMESTAMP, "x-zm-signature": EXPECTED}, BODY)


def test_url_validation_answer_matches_openssl():
    # printf '%s' 'Zp3kT9vQ' | openssl dgst -sha256 -hmac 'whsec-test-7Hq2'
    assert verifier().url_validation("Zp3kT9vQ")["encryptedToken"] == (
        "eac6c57d824ce5b549a260e8098dbe42e0249468280d3cbebb772e741bb69b71"
    )


@pytest.mark.parametrize(
    "headers, body, now, reason",
    [
        ({}, BODY, 1764669600, "missing"),
        ({"x-zm-request-timestamp": TIMESTAMP}, BODY, 1764669600, "missing"),
        ({"x-zm-request-timestamp": TIMESTAMP, "x-zm-signature": "v0=" + "0" * 64}, BODY, 1764669600, "does not match"),
        ({"x-zm-request-timestamp": TIMESTAMP, "x-zm-signature": EXPECTED}, BODY + b" ", 1764669600, "does not match"),
        ({"x-zm-request-timestamp": TIMESTAMP, "x-zm-signature": EXPECTED}, BODY, 1764669600 + 301, "stale"),
        ({"x-zm-request-timestamp": TIMESTAMP, "x-zm-signature": EXPECTED}, BODY, 1764669600 - 301, "stale"),
        ({"x-zm-request-timestamp": "12x", "x-zm-signature": EXPECTED}, BODY, 1764669600, "malformed"),
    ],
    ids=["unsigned", "no-signature", "wrong", "body-changed", "stale", "future", "bad-timestamp"],
)
def test_anything_else_is_refused(headers, body, now, reason):
    with pytest.raises(SignatureError, match=reason):
        verifier(now).verify(headers, body)


def test_the_edge_of_the_skew_window_is_accepted():
    verifier(1764669600 + 300).verify({"x-zm-request-timestamp": TIMESTAMP, "x-zm-signature": EXPECTED}, BODY)


def test_an_empty_secret_is_refused_at_construction():
    with pytest.raises(ValueError):
        SignatureVerifier("")
