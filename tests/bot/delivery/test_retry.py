"""Retry policy: exponential backoff with jitter, Retry-After honoured exactly, and a bound."""
from __future__ import annotations

import random

import pytest

from bot.delivery.retry import (
    DeliveryError,
    RetryPolicy,
    error_for_status,
    retry_after_seconds,
)

POLICY = RetryPolicy(max_attempts=6, base_seconds=1, max_backoff_seconds=8)


def test_backoff_doubles_within_jitter_up_to_its_cap():
    rng = random.Random(7)
    error = DeliveryError("http_500", True)
    for attempts, full in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8)]:
        delays = {POLICY.delay(attempts, error, rng) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays) and len(delays) > 1


def test_retry_after_is_waited_for_exactly_but_not_forever():
    assert POLICY.delay(1, DeliveryError("http_429", True, 30.0), random.Random()) == 30.0
    assert POLICY.delay(1, DeliveryError("http_429", True, 86400.0), random.Random()) == POLICY.max_retry_after_seconds


def test_a_delivery_fails_for_good_at_the_bound_or_when_retrying_cannot_help():
    assert POLICY.delay(6, DeliveryError("timeout", True), random.Random()) is None
    assert POLICY.delay(1, DeliveryError("http_400", False), random.Random()) is None


@pytest.mark.parametrize(
    "status, retryable, wait",
    [(429, True, 12.0), (500, True, None), (503, True, 12.0), (401, True, None), (400, False, None), (404, False, None)],
)
def test_http_statuses_map_to_delivery_errors(status, retryable, wait):
    error = error_for_status(status, "12")
    assert (error.code, error.retryable, error.retry_after) == (f"http_{status}", retryable, wait)


def test_retry_after_as_a_date_counts_from_the_answers_own_date():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:45 GMT", "Wed, 21 Oct 2015 07:28:00 GMT") == 45.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:45 GMT", None) is None
    assert retry_after_seconds("soon", "Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert retry_after_seconds(None, None) is None


@pytest.mark.parametrize("value", ["\u00b2", "\u0661\u0662", "1\u00b2"])
def test_a_retry_after_of_other_digits_is_not_a_number_of_seconds(value):
    assert retry_after_seconds(value, None) is None
