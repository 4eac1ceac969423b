"""The state of one series (one signal of one entity): buckets, detectors, open alerts.

Everything the pipeline learns is held here, keyed by ``(signal, entity)``, so state can
be snapshotted, restored and partitioned by entity. Snapshots are JSON-compatible lists
tagged with :data:`SNAPSHOT_VERSION`.
"""
from __future__ import annotations

from typing import Any

from detectors.base import Bucket, Detector
from warning.alerts import AlertChange, AlertTrack, RuleContext
from warning.buckets import BucketWindow

SNAPSHOT_VERSION = 1


class Series:
    __slots__ = ("signal", "entity", "window", "detectors", "tracks", "seen", "max_seen")

    def __init__(
        self,
        signal: str,
        entity: str,
        window: BucketWindow,
        rules: list[tuple[RuleContext, Detector]],
        max_seen: int,
    ) -> None:
        self.signal = signal
        self.entity = entity
        self.window = window
        self.detectors = [detector for _, detector in rules]
        self.tracks = [AlertTrack(ctx, entity) for ctx, _ in rules]
        # Ids of accepted events whose buckets are still open, oldest first. An id
        # repeated after its bucket closed is caught as late, so older ids are dropped.
        self.seen: dict[str, float] = {}
        self.max_seen = max_seen

    def is_duplicate(self, event_id: str, ts: float) -> bool:
        seen = self.seen
        if event_id in seen:
            return True
        seen[event_id] = ts
        if len(seen) > self.max_seen:
            del seen[next(iter(seen))]
        return False

    def detect(self, closed: list[Bucket], changes: list[AlertChange]) -> None:
        """Score then learn each closed bucket with every rule; collect alert changes."""
        for bucket in closed:
            for detector, track in zip(self.detectors, self.tracks):
                change = track.observe(detector.score_one(bucket), bucket.end)
                detector.learn_one(bucket)
                if change is not None:
                    changes.append(change)
        if self.seen and closed:
            self._forget_closed()

    def _forget_closed(self) -> None:
        horizon = self.window.next_close
        if horizon is None:
            return
        width = self.window.width
        seen = self.seen
        for event_id, ts in list(seen.items()):
            if ts - ts % width >= horizon:
                break
            del seen[event_id]

    def snapshot(self) -> list[Any]:
        return [
            SNAPSHOT_VERSION,
            self.window.snapshot(),
            [d.snapshot() for d in self.detectors],
            [t.snapshot() for t in self.tracks],
            list(self.seen.items()),
        ]

    def restore(self, state: list[Any]) -> None:
        version, window, detectors, tracks, seen = state
        if version != SNAPSHOT_VERSION:
            raise ValueError(f"series snapshot version {version} is not {SNAPSHOT_VERSION}")
        self.window.restore(window)
        for detector, det_state in zip(self.detectors, detectors, strict=True):
            detector.restore(det_state)
        for track, track_state in zip(self.tracks, tracks, strict=True):
            track.restore(track_state)
        self.seen = {event_id: ts for event_id, ts in seen}
