"""``GET /v1/alerts`` (filters, cursor pagination) and ``GET /v1/alerts/{id}``."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.auth import ReadAccess
from api.deps import DatabaseDep
from api.errors import InvalidParameter
from api.schemas import AlertPage, AlertRead, error_response
from warning.errors import NotFound
from warning.storage.database import AlertFilter

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], responses={422: error_response("a parameter is invalid; the message names it")})


@router.get("", response_model=AlertPage, summary="List alerts, newest first")
def list_alerts(
    caller: ReadAccess,
    db: DatabaseDep,
    status: Literal["open", "acknowledged", "responding", "resolved", "reviewed"] | None = None,
    severity: Literal["minor", "moderate", "severe"] | None = None,
    kind: str | None = None,
    signal: str | None = None,
    entity: str | None = None,
    raised_since: Annotated[dt.datetime | None, Query(description="RFC 3339, inclusive")] = None,
    raised_until: Annotated[dt.datetime | None, Query(description="RFC 3339, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> AlertPage:
    for name, value in (("raised_since", raised_since), ("raised_until", raised_until)):
        if value is not None and value.tzinfo is None:
            raise InvalidParameter(f"query.{name}", "needs a UTC offset, e.g. 2026-11-20T10:00:00Z")
    filters = AlertFilter(status, severity, kind, signal, entity, raised_since, raised_until)
    try:
        alerts, next_cursor = db.list_alerts(filters, limit=limit, cursor=cursor)
    except ValueError as exc:
        raise InvalidParameter("query.cursor", str(exc)) from None
    return AlertPage(items=[AlertRead.of(a) for a in alerts], next_cursor=next_cursor)


@router.get("/{alert_id}", response_model=AlertRead, summary="One alert",
            responses={404: error_response("no alert with this id")})
def get_alert(alert_id: str, caller: ReadAccess, db: DatabaseDep) -> AlertRead:
    alert = db.get_alert(alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id!r}")
    return AlertRead.of(alert)
