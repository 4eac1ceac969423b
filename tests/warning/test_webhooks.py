"""What a webhook sends and when it retries: the schedule, Retry-After, filters."""
from __future__ import annotations

import random

import pytest

from warning.notify.webhooks import (
    MAX_RETRY_AFTER,
    RETRY_DELAYS,
    RETRY_WINDOW,
    error_for_status,
    next_attempt,
    parse_retry_after,
    retry_delay,
)
from warning.subscriptions import Filters

NOW = 1_795_170_300.0


def test_retry_delays_follow_the_schedule_with_ten_percent_jitter() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, rng) for n in range(1, 10)]

    expected = [*RETRY_DELAYS, 3600.0, 3600.0, 3600.0]
    assert all(0.9 * e <= d <= 1.1 * e for d, e in zip(delays, expected, strict=True))
    assert len({round(d / e, 6) for d, e in zip(delays, expected, strict=True)}) > 1  # jittered, not scaled


def test_the_window_ends_the_retries() -> None:
    rng = random.Random(1)
    at, failures = NOW, 0
    while (following := next_attempt(failures + 1, at, NOW + RETRY_WINDOW, rng)) is not None:
        at, failures = following, failures + 1

    assert 25 <= failures + 1 <= 30  # attempts in 24 h: six quick retries, then about hourly
    assert NOW + RETRY_WINDOW - 1.1 * 3600 < at <= NOW + RETRY_WINDOW


def test_retry_after_is_never_undercut_and_is_capped() -> None:
    rng = random.Random(1)

    assert next_attempt(1, NOW, NOW + RETRY_WINDOW, rng, retry_after=600) == NOW + 600
    assert next_attempt(6, NOW, NOW + RETRY_WINDOW, rng, retry_after=1) >= NOW + 0.9 * 3600  # type: ignore[operator]
    assert next_attempt(1, NOW, NOW + RETRY_WINDOW, rng, retry_after=10 * 86400) == NOW + MAX_RETRY_AFTER


@pytest.mark.parametrize(("header", "seconds"), [
    pytest.param("120", 120.0, id="delta seconds"),
    pytest.param("Fri, 20 Nov 2026 10:35:00 GMT", 600.0, id="HTTP date"),
    pytest.param("soon", None, id="nonsense"),
    pytest.param(None, None, id="absent"),
])
def test_retry_after_headers(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(("status", "reason", "recoverable"), [
    pytest.param(410, "gone", False, id="gone disables"),
    pytest.param(429, "http_429", True, id="too many requests"),
    pytest.param(503, "http_5xx", True, id="server error"),
    pytest.param(400, "http_4xx", True, id="client error"),
    pytest.param(301, "http_3xx", True, id="redirects are not followed"),
])
def test_answers_other_than_2xx_are_classified(status: int, reason: str, recoverable: bool) -> None:
    error = error_for_status(status, None)

    assert error is not None and (error.reason, error.recoverable) == (reason, recoverable)
    assert error_for_status(204, None) is None


def notice(type: str = "alert.raised", severity: str = "moderate", signal: str = "alarms",
           entity: str = "brand-x") -> dict[str, object]:
    return {"type": type, "entity": entity, "alert": {"severity": severity, "signal": signal, "entity": entity}}


@pytest.mark.parametrize(("filters", "matches"), [
    pytest.param(Filters(), True, id="empty filters match all"),
    pytest.param(Filters(event_types=("alert.raised",)), True, id="type listed"),
    pytest.param(Filters(event_types=("alert.overdue",)), False, id="type not listed"),
    pytest.param(Filters(min_severity="moderate"), True, id="severity at the minimum"),
    pytest.param(Filters(min_severity="severe"), False, id="severity below the minimum"),
    pytest.param(Filters(signals=("mentions",)), False, id="other signal"),
    pytest.param(Filters(entities=("brand-x", "brand-y")), True, id="entity listed"),
    pytest.param(Filters(entities=("brand-y",)), False, id="entity not listed"),
])
def test_filters(filters: Filters, matches: bool) -> None:
    assert filters.matches(notice()) is matches


def test_unknown_filter_values_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="alert.raised"):
        Filters(event_types=("alert.exploded",))
    with pytest.raises(ValueError, match="minor"):
        Filters(min_severity="huge")
