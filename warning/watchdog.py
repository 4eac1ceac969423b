"""The feed watchdog: a series whose events stop where there always were some raises ``no_data``.

A silent feed must not look like a calm week. Detectors only see closed buckets, and a
silent series closes none, so silence is judged against a clock from outside the series:
:meth:`warning.pipeline.Pipeline.check_feeds` asks each series' watchdog how long it has
been silent at ``now``.

The watchdog learns, per series, how often a bucket has data (``presence``, an
exponentially weighted share of non-empty buckets). A series is watched once it has
seen ``min_buckets`` buckets with a presence of at least ``min_presence`` (a feed where
there always were some); it fires when it has been silent for ``silence_buckets`` of its
usual gaps (bucket width / presence) and at least ``min_silence``.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.base import Bucket, Finding, Severity
from warning.timefmt import parse_duration, rfc3339


class WatchdogConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    min_silence: float = Field(0.0, description="never fire on a shorter silence, e.g. '6h'")
    silence_buckets: float = Field(12.0, gt=0, description="silence, in usual gaps between data, that fires")
    min_presence: float = Field(0.8, gt=0, le=1, description="share of buckets with data that makes a feed regular")
    min_buckets: int = Field(48, ge=1, description="buckets seen before the feed is judged")
    memory_buckets: float = Field(168.0, gt=0, description="buckets the presence estimate averages over")

    @field_validator("min_silence", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class FeedWatchdog:
    """Presence of data in one series' buckets, and the silence test."""

    __slots__ = ("buckets", "config", "memory", "presence")

    def __init__(self, config: WatchdogConfig) -> None:
        self.config = config
        self.memory = config.memory_buckets + 1.0
        self.presence = 0.0
        self.buckets = 0

    def learn_one(self, bucket: Bucket) -> None:
        # A running mean over the first buckets, then an exponential one (runs per bucket).
        n = self.buckets = self.buckets + 1
        memory = self.memory
        has_data = 1.0 if bucket.weight > 0 else 0.0  # a bool in the arithmetic costs more
        self.presence += (has_data - self.presence) / (n if n < memory else memory)  # noqa: FURB136 (min() is a call)

    def limit(self, width: float) -> float | None:
        """How long a silence fires, or ``None`` while the feed is not regular enough to judge."""
        cfg = self.config
        if self.buckets < cfg.min_buckets or self.presence < cfg.min_presence:
            return None
        return max(cfg.min_silence, cfg.silence_buckets * width / self.presence)

    def check(self, last_event: float, now: float, width: float) -> Finding | None:
        """The ``no_data`` finding when the feed has been silent too long at ``now``."""
        limit = self.limit(width)
        if limit is None or now - last_event < limit:
            return None
        return self.finding(last_event, now - last_event, width)

    def finding(self, last_event: float, silent: float, width: float) -> Finding:
        hours = silent / 3600.0
        return Finding(
            severity=Severity.moderate,
            strength=silent,
            message=f"no data for {hours:.1f} h where {self.presence:.0%} of buckets usually have some",
            evidence={"last_event_at": rfc3339(last_event), "silent_hours": round(hours, 2),
                      "usual_gap_hours": round(width / self.presence / 3600.0, 3),
                      "presence": round(self.presence, 3)},
        )

    def snapshot(self) -> list[Any]:
        return [self.presence, self.buckets]

    def restore(self, state: list[Any]) -> None:
        self.presence, self.buckets = float(state[0]), int(state[1])
