"""The state of one series (one signal of one entity): buckets, detectors, open alerts,
per-label baselines and the feed watchdog.

Everything the pipeline learns is held here, keyed by ``(signal, entity)``, so state can
be snapshotted, restored and partitioned by entity. Snapshots are JSON-compatible lists
tagged with :data:`SNAPSHOT_VERSION`.

**Early firing.** A count only grows while its bucket is open, so a rule whose detector
opts in (:class:`detectors.base.FiresEarly`) need not wait for the bucket to close. Once
the detectors have learned every closed bucket, each says from which count it could fire
on the next one (a cheap lower bound); when the next bucket's running sum reaches it, its
``score_one`` judges the bucket as it stands, and the count it would reach at its pace so
far (the first minutes of a spike can pass for a wave's next hour, never at their pace).
If both fire, the alert is raised at once, stamped with the bucket's latest event time,
without waiting for the lateness either. The closed bucket is then scored as usual and
updates the alert (or clears it). A sum that does not fire is tried again each time it
grows by ``RUNG``; the sums tried are a function of the floor and the running sum alone,
so a restored series tries the same ones.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, cast

import orjson

from detectors.base import Bucket, Detector, FiresEarly
from warning.alerts import AlertChange, AlertStatus, AlertTrack, RuleContext
from warning.buckets import BucketWindow
from warning.labels import LabelProfile
from warning.timefmt import rfc3339
from warning.watchdog import FeedWatchdog

SNAPSHOT_VERSION = 2  # 2 added labels and the feed watchdog; 1 still restores
RulesJson = tuple[orjson.Fragment, orjson.Fragment]
RUNG = 1.1  # early firing: a running sum that did not fire is tried again this much larger
LOG_RUNG = math.log(RUNG)
INF = math.inf


class Series:
    __slots__ = ("detectors", "early", "early_rules", "early_until", "entity", "labels", "rules", "signal", "tracks",
                 "watch_track", "watchdog", "window")

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
        self.rules = list(zip(self.detectors, self.tracks))  # detect's loop, built once
        self.labels: LabelProfile | None = None  # created by the first labelled bucket
        self.watchdog = None if watch is None else watch[1]
        self.watch_track = None if watch is None else AlertTrack(watch[0], entity)
        # Early firing (see the module docstring): the rules that opt in (hasattr: a runtime
        # protocol check costs more than building the detector), the next bucket's running
        # sum from which to try them and that bucket's end (-inf: nothing to try).
        self.early_rules = [(cast(FiresEarly, d), t) for d, t in zip(self.detectors, self.tracks)
                            if window.is_count and hasattr(d, "firing_floor")]
        self.early, self.early_until = INF, -INF

    def detect(self, closed: list[Bucket], changes: list[AlertChange]) -> None:
        """Score then learn each closed bucket with every rule; collect alert changes."""
        watchdog = self.watchdog
        for bucket in closed:
            labels = bucket.labels
            for detector, track in self.rules:
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

    def arm(self, changes: list[AlertChange] | None) -> None:
        """Set ``early`` for the next bucket: the least floor of the rules not firing, or, once
        its running sum reached that, the first rung above the sum. With ``changes`` (its
        buckets just closed), also try the sum it has already; without (tried just now,
        restored, or an operator moved an alert), the sums it reached count as tried. Runs
        for every closed bucket, so it is written out for speed."""
        window = self.window
        start = window.next_close
        if start is None:
            return
        floor = INF
        for detector, track in self.early_rules:
            if not track.firing:
                at = detector.firing_floor(start)
                if at < floor:  # noqa: PLR1730 (min() is a call, and this runs per bucket)
                    floor = at
        if floor == INF:
            self.early, self.early_until = INF, -INF
            return
        if floor < 1.0:  # noqa: PLR1730 (as above)
            floor = 1.0
        acc = window.open.get(start)
        if acc is None or acc[0] < floor:
            self.early, self.early_until = floor, start + window.width
            return
        total = acc[0]
        early = floor * RUNG ** (math.floor(math.log(total / floor) / LOG_RUNG) + 1)
        while early <= total:  # rounding
            early *= RUNG
        self.early, self.early_until = early, start + window.width
        if changes is not None:
            self._try_early(start, acc, changes)

    def fire_early(self, changes: list[AlertChange]) -> bool:
        """An event landed in the next bucket: try its running sum if it reached ``early``.
        True when that changed an alert track (the series' snapshot with it)."""
        start = self.window.next_close
        acc = None if start is None else self.window.open.get(start)
        if start is None or acc is None or acc[0] < self.early:
            return False
        before = len(changes)
        self._try_early(start, acc, changes)
        return len(changes) > before

    def _try_early(self, start: float, acc: list[Any], changes: list[AlertChange]) -> None:
        """Raise the alerts of the rules that fire on the next bucket as it stands and on the
        count it would reach at its pace so far (measured to its latest event)."""
        width = self.window.width
        bucket = Bucket(start, start + width, acc[0], acc[1], acc[2], acc[3])
        elapsed = acc[4] - start
        for detector, track in self.early_rules:
            finding = None if track.firing or elapsed <= 0.0 else detector.score_one(bucket)
            if finding is not None and elapsed < width:
                pace = width / elapsed
                if detector.score_one(Bucket(start, start + width, acc[0] * pace, acc[1] * pace)) is None:
                    finding = None
            if finding is not None:
                if bucket.labels and self.labels is not None:
                    top = self.labels.contributors(bucket.labels, True)
                    finding = replace(finding, evidence={**finding.evidence, "contributors": top})
                change = track.observe(finding, acc[4])  # when the sum got there, at the latest
                if change is not None:
                    changes.append(change)
        self.arm(None)

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
                if self.early_rules:
                    self.arm(None)  # a resolved alert's rule may fire early again
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
        if self.early_rules:
            self.arm(None)
