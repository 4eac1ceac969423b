"""The state of one series (one signal of one entity): buckets, detectors, open alerts,
per-label baselines and the feed watchdog.

Everything the pipeline learns is held here, keyed by ``(signal, entity)``, so state can
be snapshotted, restored and partitioned by entity. Snapshots are JSON-compatible lists
tagged with :data:`SNAPSHOT_VERSION`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from detectors.base import Bucket, Detector
from warning.alerts import AlertChange, AlertStatus, AlertTrack, RuleContext
from warning.buckets import BucketWindow
from warning.labels import LabelProfile
from warning.timefmt import rfc3339
from warning.watchdog import FeedWatchdog

SNAPSHOT_VERSION = 2  # 2 added labels and the feed watchdog; 1 still restores
RulesJson = tuple[orjson.Fragment, orjson.Fragment]


class Series:
    __slots__ = ("detectors", "entity", "labels", "signal", "tracks", "watch_track", "watchdog", "window")

    def __init__(
        self,
        signal: str,
        entity: str,
        window: BucketWindow,
        rules: list[tuple[RuleContext, Detector]],
        watch: tuple[RuleContext, FeedWatchdog] | None = None,
    ) -> None:
        self.signal = signal
        self.entity = entity
        self.window = window
        self.detectors = [detector for _, detector in rules]
        self.tracks = [AlertTrack(ctx, entity) for ctx, _ in rules]
        self.labels: LabelProfile | None = None  # created by the first labelled bucket
        self.watchdog = None if watch is None else watch[1]
        self.watch_track = None if watch is None else AlertTrack(watch[0], entity)

    def detect(self, closed: list[Bucket], changes: list[AlertChange]) -> None:
        """Score then learn each closed bucket with every rule; collect alert changes."""
        watchdog = self.watchdog
        for bucket in closed:
            labels = bucket.labels
            for detector, track in zip(self.detectors, self.tracks):
                finding = detector.score_one(bucket)
                # Most buckets: no finding and no alert, so nothing for the track to do.
                if finding is not None or track.alert is not None:
                    if finding is not None and labels and self.labels is not None:
                        top = self.labels.contributors(labels, self.window.is_count)
                        finding = replace(finding, evidence={**finding.evidence, "contributors": top})
                    change = track.observe(finding, bucket.end)
                    if change is not None:
                        changes.append(change)
                detector.learn_one(bucket)
            if watchdog is not None:
                watchdog.learn_one(bucket)
            if labels is not None or self.labels is not None:
                if self.labels is None:
                    self.labels = LabelProfile()
                self.labels.learn_one(labels)

    def explain(self, closed: list[Bucket], changes: list[AlertChange]) -> list[dict[str, Any]]:
        """:meth:`detect`, also returning what each rule saw in each bucket (slow; for people)."""
        seen = []
        for bucket in closed:
            views = [d.explain(bucket) for d in self.detectors]
            before = len(changes)
            self.detect([bucket], changes)
            seen.append({
                "signal": self.signal, "entity": self.entity, "bucket": rfc3339(bucket.start),
                "value": bucket.value, "weight": bucket.weight,
                "rules": {t.ctx.rule: view for t, view in zip(self.tracks, views)},
                "changes": [{"rule": c.alert.rule, "reason": c.reason.value, "severity": c.alert.severity.name,
                             "message": c.alert.message} for c in changes[before:]],
            })
        return seen

    def check_feed(self, now: float) -> AlertChange | None:
        """Raise ``no_data`` when this series has been silent too long at ``now``; clear it after."""
        watchdog, track = self.watchdog, self.watch_track
        if watchdog is None or track is None:
            return None
        last_event = self.window.watermark
        limit = watchdog.limit(self.window.width)
        if limit is None or now - last_event < limit:
            return None if track.alert is None else track.observe(None, now)
        if track.firing:
            return None  # raised already; nothing new until the feed is back
        # Raised at the moment the silence crossed its limit, whenever it is checked.
        return track.observe(watchdog.finding(last_event, limit, self.window.width), last_event + limit)

    def move_alert(self, alert_id: str, status: AlertStatus, version: int) -> bool:
        """Apply an operator's move to the track holding ``alert_id``; False if none does."""
        for track in (*self.tracks, self.watch_track):
            if track is not None and track.alert is not None and track.alert.id == alert_id:
                track.move(status, version)
                return True
        return False

    def snapshot(self) -> list[Any]:
        return [
            SNAPSHOT_VERSION,
            self.window.snapshot(),
            [d.snapshot() for d in self.detectors],
            [t.snapshot() for t in self.tracks],
            self._extras(),
        ]

    def _extras(self) -> list[Any]:
        return [
            None if self.labels is None else self.labels.snapshot(),
            None if self.watchdog is None else self.watchdog.snapshot(),
            None if self.watch_track is None else self.watch_track.snapshot(),
        ]

    def rules_json(self) -> RulesJson:
        """The detectors' and alert tracks' part of :meth:`snapshot`, serialised."""
        return (orjson.Fragment(orjson.dumps([d.snapshot() for d in self.detectors])),
                orjson.Fragment(orjson.dumps([t.snapshot() for t in self.tracks])))

    def snapshot_json(self, rules: RulesJson) -> bytes:
        """``orjson.dumps(self.snapshot())``, given the current :meth:`rules_json`."""
        return orjson.dumps([SNAPSHOT_VERSION, self.window.snapshot(), *rules, self._extras()])

    def restore(self, state: list[Any]) -> None:
        version = state[0]
        if version not in (1, SNAPSHOT_VERSION):
            raise ValueError(f"series snapshot version {version} is not {SNAPSHOT_VERSION}")
        _, window, detectors, tracks = state[:4]
        labels, watchdog, watch_track = state[4] if version >= 2 else (None, None, None)
        self.window.restore(window)
        for detector, det_state in zip(self.detectors, detectors, strict=True):
            detector.restore(det_state)
        for track, track_state in zip(self.tracks, tracks, strict=True):
            track.restore(track_state)
        self.labels = None
        if labels is not None:
            self.labels = LabelProfile()
            self.labels.restore(labels)
        if self.watchdog is not None and watchdog is not None:
            self.watchdog.restore(watchdog)
        if self.watch_track is not None:
            self.watch_track.restore(watch_track)
