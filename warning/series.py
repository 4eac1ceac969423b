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
    __slots__ = ("signal", "entity", "window", "detectors", "tracks")

    def __init__(
        self,
        signal: str,
        entity: str,
        window: BucketWindow,
        rules: list[tuple[RuleContext, Detector]],
    ) -> None:
        self.signal = signal
        self.entity = entity
        self.window = window
        self.detectors = [detector for _, detector in rules]
        self.tracks = [AlertTrack(ctx, entity) for ctx, _ in rules]

    def detect(self, closed: list[Bucket], changes: list[AlertChange]) -> None:
        """Score then learn each closed bucket with every rule; collect alert changes."""
        for bucket in closed:
            for detector, track in zip(self.detectors, self.tracks):
                finding = detector.score_one(bucket)
                # Most buckets: no finding and no alert, so nothing for the track to do.
                if finding is not None or track.alert is not None:
                    change = track.observe(finding, bucket.end)
                    if change is not None:
                        changes.append(change)
                detector.learn_one(bucket)

    def snapshot(self) -> list[Any]:
        return [
            SNAPSHOT_VERSION,
            self.window.snapshot(),
            [d.snapshot() for d in self.detectors],
            [t.snapshot() for t in self.tracks],
        ]

    def restore(self, state: list[Any]) -> None:
        version, window, detectors, tracks = state
        if version != SNAPSHOT_VERSION:
            raise ValueError(f"series snapshot version {version} is not {SNAPSHOT_VERSION}")
        self.window.restore(window)
        for detector, det_state in zip(self.detectors, detectors, strict=True):
            detector.restore(det_state)
        for track, track_state in zip(self.tracks, tracks, strict=True):
            track.restore(track_state)
