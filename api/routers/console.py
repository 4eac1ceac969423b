"""What the console reads beyond the workflow API: ``GET /v1/me`` (who the key belongs to
and what it may do), ``GET /v1/console/clock`` (the clock to count down on) and
``GET /v1/alerts/{id}/series`` (an alert's chart)."""
from __future__ import annotations

from fastapi import APIRouter

from api.auth import ReadAccess
from api.console.schemas import BucketPoint, ClockRead, MeRead, SeriesRead
from api.deps import ClockDep, DatabaseDep, SettingsDep
from api.schemas import error_response
from warning.access import Scope, effective
from warning.charts import alert_chart
from warning.errors import NotFound
from warning.timefmt import rfc3339

router = APIRouter(prefix="/v1", tags=["console"])


@router.get("/me", response_model=MeRead, summary="The caller: the key's owner and its scopes (implied ones included)")
def me(caller: ReadAccess) -> MeRead:
    return MeRead(name=caller.name, scopes=[s.value for s in Scope if s in effective(caller.scopes)])


@router.get("/console/clock", response_model=ClockRead,
            summary="The service's clock and the response clock's settings, for countdowns")
def clock(caller: ReadAccess, settings: SettingsDep, service_clock: ClockDep) -> ClockRead:
    return ClockRead(
        now=rfc3339(service_clock.now()),
        rate=float(getattr(service_clock, "rate", 1.0)),  # an accelerated clock (tocsin demo) says how fast
        response_hours=settings.response_hours,
        response_hours_by_severity=dict(settings.response_hours_by_severity),
        escalation_hours=list(settings.escalation_hours),
    )


@router.get("/alerts/{alert_id}/series", response_model=SeriesRead,
            summary="An alert's series around its firing, with its baseline, threshold and firing moment",
            responses={404: error_response("no alert with this id"),
                       422: error_response("a parameter is invalid; the message names it")})
def series(alert_id: str, caller: ReadAccess, db: DatabaseDep, settings: SettingsDep) -> SeriesRead:
    alert = db.get_alert(alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id!r}")
    db.write_staged()  # the latest closed buckets wait for the next checkpoint (warning/storage/database.py)
    chart = alert_chart(db.engine, settings, alert)
    return SeriesRead(
        alert_id=alert.id, signal=chart.signal, entity=chart.entity, bucket_seconds=chart.bucket_seconds,
        buckets=[BucketPoint(start=rfc3339(b.start), value=b.value) for b in chart.buckets],
        baseline=chart.baseline, threshold=chart.threshold, direction=chart.direction,
        fired_at=rfc3339(chart.fired_at), cleared_at=None if chart.cleared_at is None else rfc3339(chart.cleared_at),
    )
