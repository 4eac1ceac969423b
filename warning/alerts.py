"""Alerts: one open alert per (rule, entity), updated as its rule keeps firing.

An :class:`AlertTrack` follows one rule on one series. It turns the detector's findings
into alert changes: the first finding raises an alert (its ``raised_at`` is the event
time the firing bucket ended, its id derived from rule, entity and that time so every
run that sees the same events names it the same); later findings update it (last seen,
peak evidence, severity, which only rises while the alert is open); a quiet bucket
marks the condition clear; an alert nobody has touched resolves itself once its
condition has stayed clear for the signal's ``resolve_after``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from detectors.base import Finding, Severity
from warning.timefmt import rfc3339


class AlertStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    responding = "responding"
    resolved = "resolved"
    reviewed = "reviewed"


class ChangeReason(StrEnum):
    """Why detection changed an alert; each but ``updated`` sends a notice ``alert.<reason>``
    (:mod:`warning.notices`). Operators' moves are recorded as ``operator.<action>``."""

    raised = "raised"
    updated = "updated"
    severity_raised = "severity_raised"
    cleared = "cleared"
    refired = "refired"
    resolved = "resolved"


@dataclass(slots=True, frozen=True)
class Alert:
    """An alert as stored and shown. Times are epoch seconds on event time."""

    id: str
    kind: str
    rule: str
    signal: str
    entity: str
    severity: Severity
    status: AlertStatus
    raised_at: float
    last_seen_at: float
    response_due_at: float
    message: str
    evidence: dict[str, Any]
    strength: float
    crisis_type: str | None = None
    cleared_at: float | None = None
    resolved_at: float | None = None
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        """The replay and API shape (SPEC "Replay output")."""
        return {
            "id": self.id, "kind": self.kind, "rule": self.rule, "signal": self.signal,
            "entity": self.entity, "severity": self.severity.name, "status": self.status.value,
            "raised_at": rfc3339(self.raised_at), "last_seen_at": rfc3339(self.last_seen_at),
            "response_due_at": rfc3339(self.response_due_at),
            "cleared_at": None if self.cleared_at is None else rfc3339(self.cleared_at),
            "resolved_at": None if self.resolved_at is None else rfc3339(self.resolved_at),
            "crisis_type": self.crisis_type, "message": self.message, "evidence": self.evidence,
            "version": self.version,
        }


@dataclass(slots=True, frozen=True)
class AlertChange:
    """One new version of an alert and why it came about."""

    alert: Alert
    reason: ChangeReason
    at: float


def alert_id(rule: str, entity: str, raised_at: float) -> str:
    digest = hashlib.blake2b(f"{rule}\x00{entity}\x00{raised_at!r}".encode(), digest_size=10).hexdigest()
    return f"alr_{digest}"


@dataclass(slots=True, frozen=True)
class RuleContext:
    """What a track needs to know about its rule, shared by all its series."""

    kind: str
    rule: str
    signal: str
    resolve_after: float
    response_seconds: dict[Severity, float]
    crisis_type: str | None = None


@dataclass(slots=True)
class AlertTrack:
    """The open alert of one rule on one entity, if any."""

    ctx: RuleContext
    entity: str
    alert: Alert | None = None
    firing: bool = field(default=False)

    def observe(self, finding: Finding | None, at: float) -> AlertChange | None:
        """Fold the finding for the bucket that ended at ``at`` into the alert."""
        alert = self.alert
        if finding is None:
            if alert is None:
                return None
            if self.firing:
                self.firing = False
                return self._change(replace(alert, cleared_at=at, version=alert.version + 1),
                                    ChangeReason.cleared, at)
            if alert.cleared_at is not None and at - alert.cleared_at >= self.ctx.resolve_after:
                if alert.status is AlertStatus.open:
                    resolved = replace(alert, status=AlertStatus.resolved, resolved_at=at,
                                       version=alert.version + 1)
                    self.alert = None
                    return AlertChange(resolved, ChangeReason.resolved, at)
            return None

        was_firing, self.firing = self.firing, True
        if alert is None:
            return self._raise(finding, at)
        severity = max(alert.severity, finding.severity)
        reason = ChangeReason.updated if was_firing else ChangeReason.refired
        if severity > alert.severity:
            reason = ChangeReason.severity_raised
        peak = finding.strength >= alert.strength
        updated = replace(
            alert,
            severity=severity,
            # A worse severity may have a shorter clock; a deadline never moves later.
            response_due_at=min(alert.response_due_at, alert.raised_at + self.ctx.response_seconds[severity]),
            last_seen_at=at,
            cleared_at=None,
            message=finding.message if peak else alert.message,
            evidence=finding.evidence if peak else alert.evidence,
            strength=max(finding.strength, alert.strength),
            version=alert.version + 1,
        )
        return self._change(updated, reason, at)

    def move(self, status: AlertStatus, version: int) -> None:
        """An operator moved the alert to ``status`` (:mod:`warning.response`).

        Later firings build on the operator's status and version, so detection never undoes
        a move. A resolved alert leaves the track: the rule's next firing raises a new alert
        rather than reviving one an operator closed.
        """
        if self.alert is None:
            return
        if status in (AlertStatus.resolved, AlertStatus.reviewed):
            self.alert, self.firing = None, False
        else:
            self.alert = replace(self.alert, status=status, version=version)

    def _raise(self, finding: Finding, at: float) -> AlertChange:
        ctx = self.ctx
        alert = Alert(
            id=alert_id(ctx.rule, self.entity, at), kind=ctx.kind, rule=ctx.rule, signal=ctx.signal,
            entity=self.entity, severity=finding.severity, status=AlertStatus.open, raised_at=at,
            last_seen_at=at, response_due_at=at + ctx.response_seconds[finding.severity],
            message=finding.message, evidence=finding.evidence, strength=finding.strength,
            crisis_type=ctx.crisis_type,
        )
        return self._change(alert, ChangeReason.raised, at)

    def _change(self, alert: Alert, reason: ChangeReason, at: float) -> AlertChange:
        self.alert = alert
        return AlertChange(alert, reason, at)

    def snapshot(self) -> list[Any] | None:
        a = self.alert
        if a is None:
            return None
        return [a.id, a.severity.value, a.status.value, a.raised_at, a.last_seen_at, a.response_due_at,
                a.message, a.evidence, a.strength, a.cleared_at, a.version, self.firing]

    def restore(self, state: list[Any] | None) -> None:
        if state is None:
            self.alert, self.firing = None, False
            return
        ctx = self.ctx
        (id_, severity, status, raised_at, last_seen_at, due, message, evidence, strength,
         cleared_at, version, firing) = state
        self.alert = Alert(
            id=id_, kind=ctx.kind, rule=ctx.rule, signal=ctx.signal, entity=self.entity,
            severity=Severity(severity), status=AlertStatus(status), raised_at=raised_at,
            last_seen_at=last_seen_at, response_due_at=due, message=message, evidence=evidence,
            strength=strength, crisis_type=ctx.crisis_type, cleared_at=cleared_at, version=version,
        )
        self.firing = firing
