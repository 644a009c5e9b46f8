"""Unit tests of the retry policy: Retry-After parsing, backoff and idempotency."""

from __future__ import annotations

import pytest

from app.confluence.retry import RetryPolicy, is_idempotent, parse_retry_after

NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0", 0.0),
        (" 12 ", 12.0),
        ("0.2", 0.2),
        ("Tue, 14 Nov 2023 22:13:50 GMT", 30.0),
        ("Tue, 14 Nov 2023 22:13:00 GMT", 0.0),  # already past: go now
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("1e3", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_survives_absurd_values() -> None:
    assert parse_retry_after("9" * 400, NOW) == float("inf")  # never slept: above any clamp


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=4.0)
    assert [policy.backoff(n, lambda: 0.0) for n in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert [policy.backoff(n, lambda: 1.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.backoff(10_000, lambda: 1.0) == 4.0


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    ("method", "expected"),
    [("GET", True), ("put", True), ("DELETE", True), ("HEAD", True), ("POST", False), ("PATCH", False)],
)
def test_only_idempotent_methods_are_retried(method: str, expected: bool) -> None:
    assert is_idempotent(method) is expected
