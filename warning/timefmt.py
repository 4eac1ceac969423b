"""Event time is carried as float epoch seconds inside the core and as RFC 3339 outside."""
from __future__ import annotations

import datetime as dt
import math

UTC = dt.UTC


def rfc3339(ts: float) -> str:
    """``1735689600.0`` -> ``"2025-01-01T00:00:00Z"`` (sub-second part kept when present)."""
    t = dt.datetime.fromtimestamp(ts, UTC)
    text = t.isoformat(timespec="microseconds" if t.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_rfc3339(text: str) -> float:
    """The inverse of :func:`rfc3339`; raises ``ValueError`` without an offset."""
    t = dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return t.timestamp()


def parse_duration(value: str | float) -> float:
    """Seconds from ``300``, ``"300s"``, ``"5m"``, ``"1h"``, ``"1d"`` or ``"2w"``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("a duration must be a number of seconds or a string like '5m'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip()
        unit = text[-1:].lower()
        scale = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}.get(unit)
        try:
            seconds = float(text[:-1]) * scale if scale else float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a duration like '30s', '5m', '1h', '1d' or '2w'") from None
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be finite, got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return seconds
