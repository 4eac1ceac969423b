"""What a webhook delivery sends, and what a failed attempt leads to.

The body is a CloudEvents 1.0 event in structured JSON mode::

    {"specversion": "1.0", "id": "msg_...", "source": "/tocsin", "type": "io.tocsin.alert.raised",
     "subject": "<alert id>", "time": "<the notice's at>", "datacontenttype": "application/json",
     "data": {"alert": {... evidence, response_due_at ...}, "notice_id", "reason", "elapsed_hours", "actor"}}

``id`` (also the ``webhook-id`` header) is derived from the notice and the subscription: the
same on every retry and redelivery, so a receiver deduplicates on it.

Retries follow :data:`RETRY_DELAYS` (then hourly) with +-10 % jitter, so subscribers that
failed together do not retry together, until :data:`RETRY_WINDOW` after the round started;
an attempt that fails after that is the last, and the delivery is dead-lettered. A
``Retry-After`` answer is honoured: the next attempt is never earlier than it asks.
"""
from __future__ import annotations

import email.utils
import hashlib
import random
from typing import Any

from warning.timefmt import rfc3339

SOURCE = "/tocsin"
TYPE_PREFIX = "io.tocsin."
PING = "ping"
RETRY_DELAYS = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)  # then hourly
RETRY_WINDOW = 24 * 3600.0
JITTER = 0.1
MAX_RETRY_AFTER = 6 * 3600.0  # a receiver asking for longer gets its answer at the hourly pace of the window


def webhook_id(subscription_id: str, notice_id: str) -> str:
    return "msg_" + hashlib.sha256(f"{subscription_id}/{notice_id}".encode()).hexdigest()[:32]


def notice_event(subscription_id: str, notice: dict[str, Any]) -> dict[str, Any]:
    """The CloudEvent for one notice ``payload`` to one subscription."""
    return {
        "specversion": "1.0", "id": webhook_id(subscription_id, notice["id"]), "source": SOURCE,
        "type": TYPE_PREFIX + notice["type"], "subject": notice["alert_id"], "time": notice["at"],
        "datacontenttype": "application/json",
        "data": {"alert": notice["alert"], "notice_id": notice["id"], "reason": notice["reason"],
                 "elapsed_hours": notice["elapsed_hours"], "actor": notice["actor"]},
    }


def ping_event(subscription_id: str, now: float, nonce: str) -> dict[str, Any]:
    """``io.tocsin.ping``: what ``POST /v1/subscriptions/{id}/test`` sends."""
    return {
        "specversion": "1.0", "id": webhook_id(subscription_id, f"ping/{nonce}"), "source": SOURCE,
        "type": TYPE_PREFIX + PING, "subject": subscription_id, "time": rfc3339(now),
        "datacontenttype": "application/json", "data": {"message": "a test delivery from Tocsin"},
    }


def retry_delay(failed_attempts: int, rng: random.Random) -> float:
    """Seconds before the next attempt after ``failed_attempts`` (>= 1) failures in a row."""
    base = RETRY_DELAYS[min(failed_attempts, len(RETRY_DELAYS)) - 1]
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def next_attempt(failed_attempts: int, now: float, retry_until: float, rng: random.Random,
                 retry_after: float | None = None) -> float | None:
    """When to try again, or None when the retry window is over (dead-letter)."""
    delay = retry_delay(failed_attempts, rng)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    at = now + delay
    return at if at <= retry_until else None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() too, which float() refuses
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now) if when.tzinfo is not None else None


class DeliveryError(Exception):
    """Why an attempt failed. ``reason`` is a metrics label (one of :data:`FAILURE_REASONS`);
    ``recoverable`` says whether trying again can help."""

    def __init__(self, reason: str, message: str, *, recoverable: bool = True, status_code: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.recoverable = recoverable
        self.status_code = status_code
        self.retry_after = retry_after


FAILURE_REASONS = ("http_4xx", "http_5xx", "http_429", "http_3xx", "gone", "timeout", "connect", "refused_url",
                   "network", "internal")


def error_for_status(status: int, retry_after: float | None) -> DeliveryError | None:
    """None for a 2xx; otherwise what the answer means for the delivery."""
    if 200 <= status < 300:
        return None
    if status == 410:
        return DeliveryError("gone", "410 Gone: the subscription is disabled", recoverable=False, status_code=status)
    if status == 429:
        return DeliveryError("http_429", "429 Too Many Requests", status_code=status, retry_after=retry_after)
    # Redirects are not followed: the policy checked this URL, not wherever it points.
    reason = "http_3xx" if status < 400 else "http_4xx" if status < 500 else "http_5xx"
    return DeliveryError(reason, f"HTTP {status}", status_code=status, retry_after=retry_after)
